using GroundSharp.Explain;
using GroundSharp.Losses;
using GroundSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Training;

/// <summary>What loading a training state dict into an <see cref="AlbefPretrainer"/> did.</summary>
public sealed record PretrainLoadReport(WeightLoadReport Model, int MomentumLoaded, int MomentumFromModel, bool QueuesLoaded, IReadOnlyList<string> Notes)
{
    public string Summary(string source)
    {
        var parts = new List<string> { Model.Summary(source) };
        parts.Add(MomentumFromModel == 0
            ? $"momentum copies: {MomentumLoaded} tensors loaded"
            : $"momentum copies: {MomentumLoaded} loaded, {MomentumFromModel} initialised from the model");
        parts.Add(QueuesLoaded ? "feature queues loaded" : "feature queues initialised at random");
        parts.AddRange(Notes);
        return string.Join("; ", parts);
    }
}

/// <summary>
/// ALBEF pre-training (model_pretrain.py) around an <see cref="AlbefModel"/>: momentum copies of the
/// encoders and projections (EMA, no gradients), the image/text feature queues, and the objectives ITC
/// (with momentum distillation), ITM (with hard negatives), MLM (with momentum soft labels) plus the AMC
/// loss on the samples that have a box. State-dict names are those of the public checkpoints
/// (<c>visual_encoder_m.*</c>, <c>text_encoder_m.bert.*</c>, <c>image_queue</c>, <c>queue_ptr</c>, ...).
/// </summary>
public sealed class AlbefPretrainer : IDisposable
{
    /// <summary>The modules that have momentum twins, and the twin's state-dict prefix.</summary>
    private static readonly (string Prefix, string MomentumPrefix)[] MomentumPrefixes =
    {
        ("visual_encoder.", "visual_encoder_m."),
        ("text_encoder.", "text_encoder_m."),
        ("vision_proj.", "vision_proj_m."),
        ("text_proj.", "text_proj_m."),
    };

    private readonly List<(Parameter Online, Parameter Momentum, string Name)> _momentumPairs = new();
    // True after loading an AMC checkpoint, whose queue pointers are queue_ptr_img / queue_ptr_txt.
    private bool _amcPointerNaming;

    /// <summary>State-dict prefix of the tag head (training-only, like the momentum copies).</summary>
    public const string TagHeadPrefix = "tag_head.";

    /// <param name="tagCount">Classes of the tag objective's head (0 = no head).</param>
    public AlbefPretrainer(AlbefModel model, long seed, int tagCount = 0)
    {
        Model = model;
        Config = model.Config;
        Momentum = new AlbefModel(Config, seed);
        Momentum.to(model.DType).to(model.Device);
        var online = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var seen = new HashSet<IntPtr>();
        foreach (var (name, p) in Momentum.named_parameters())
        {
            p.requires_grad = false;
            // Tied tensors (MLM decoder = word embeddings) are updated once.
            if (!MomentumPrefixes.Any(m => name.StartsWith(m.Prefix)) || !seen.Add(p.Handle)) continue;
            _momentumPairs.Add((online[name], p, name));
        }
        CopyModelToMomentum();
        if (tagCount > 0)
        {
            torch.manual_seed(seed + 3);
            TagHead = nn.Linear(Config.VisionWidth, tagCount).to(model.DType).to(model.Device);
        }
        using var gen = new Generator((ulong)seed + 1);
        ImageQueue = RandomQueue(gen);
        TextQueue = RandomQueue(gen);
    }

    public AlbefModel Model { get; }
    /// <summary>The tag objective's linear classifier (of the image [CLS] and of every patch token); null without tags.</summary>
    public Linear? TagHead { get; }
    /// <summary>The trainable parameters outside the model (the tag head), under their state-dict names.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> ExtraParameters =>
        TagHead is null ? Enumerable.Empty<(string, Parameter)>() : TagHead.named_parameters().Select(p => (TagHeadPrefix + p.name, p.parameter));
    /// <summary>The momentum copy; only its visual_encoder, text_encoder, vision_proj and text_proj are used.</summary>
    public AlbefModel Momentum { get; }
    public AlbefConfig Config { get; }
    /// <summary>(embed_dim, queue_size) momentum image features, L2-normalised columns.</summary>
    public Tensor ImageQueue { get; private set; }
    /// <summary>(embed_dim, queue_size) momentum text features, L2-normalised columns.</summary>
    public Tensor TextQueue { get; private set; }
    /// <summary>Next queue column to overwrite.</summary>
    public long QueuePointer { get; private set; }

    public IReadOnlyList<(Parameter Online, Parameter Momentum, string Name)> MomentumPairs => _momentumPairs;

    private Tensor RandomQueue(Generator gen)
    {
        using var q = randn(new long[] { Config.EmbedDim, Config.QueueSize }, generator: gen);
        return F.normalize(q, dim: 0).to(Model.DType).to(Model.Device).DetachFromDisposeScope();
    }

    /// <summary>Training mode for both copies (ALBEF's momentum encoders also run with dropout).</summary>
    public void Train(bool on = true)
    {
        Model.train(on);
        TagHead?.train(on);
        Momentum.train(on);
    }

    public void CopyModelToMomentum()
    {
        using var _ = no_grad();
        foreach (var (online, momentum, _) in _momentumPairs) momentum.copy_(online);
    }

    /// <summary>θ_m ← m·θ_m + (1 − m)·θ.</summary>
    public void MomentumUpdate()
    {
        using var _ = no_grad();
        double m = Config.Momentum;
        // Explicit Scalars (see TensorScalars): ~150 in-place updates a step would otherwise create temporaries.
        using var keep = m.ToScalar();
        using var mix = (1 - m).ToScalar();
        foreach (var (online, momentum, _) in _momentumPairs) momentum.mul_(keep).add_(online, mix);
    }

    /// <summary>Writes the batch's momentum features into the queues at the pointer (wrapping around).</summary>
    public void Enqueue(Tensor imageFeatures, Tensor textFeatures)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = imageFeatures.shape[0], q = Config.QueueSize;
        var img = imageFeatures.detach().t();
        var txt = textFeatures.detach().t();
        long written = 0;
        while (written < Math.Min(b, q))
        {
            long n = Math.Min(q - QueuePointer, b - written);
            ImageQueue.narrow(1, QueuePointer, n).copy_(img.narrow(1, written, n));
            TextQueue.narrow(1, QueuePointer, n).copy_(txt.narrow(1, written, n));
            written += n;
            QueuePointer = (QueuePointer + n) % q;
        }
    }

    /// <summary>
    /// All losses of one batch (model_pretrain.py order: momentum update, ITC + queue update, ITM with hard
    /// negatives, MLM) plus AMC over the samples with a box. <paramref name="alpha"/> is the distillation
    /// weight of this step (after warm-up); <paramref name="generator"/> drives masking and negative sampling;
    /// <paramref name="itmRandomNegatives"/> is the share of ITM negatives drawn uniformly instead of by similarity.
    /// </summary>
    public PretrainLosses ComputeLosses(PretrainBatch batch, double alpha, ObjectiveSwitches objectives, AmcLossOptions amcOptions,
        MlmTokens mlmTokens, Generator? generator = null, double itmRandomNegatives = 0)
    {
        using var scope = NewDisposeScope();
        var dtype = Model.DType;
        int b = batch.Size;
        var ids = batch.InputIds;
        var mask = batch.AttentionMask;
        bool distill = Config.Distill;

        using (no_grad()) Model.temp.ClampInPlace(0.001, 0.5);
        var imageEmbeds = Model.EncodeImage(batch.Images);
        Tensor? lossTags = null;
        if (objectives.Tags)
        {
            if (TagHead is null || batch.Tags is null) throw new GroundSharpException("the tag objective needs image-level tags in the training data (\"tags\" in the sample files)");
            // One head read twice: from [CLS] as DeiT (the image's global feature, which ITC projects), and as the
            // maximum over the patch tokens, so that the evidence for a tag also sits in the patches that show it
            // (what the fusion layers' cross attention, and so GradCAM, reads).
            var targets = batch.Tags.to_type(dtype);
            var clsLogits = TagHead.forward(imageEmbeds.select(1, 0));
            var patchLogits = TagHead.forward(imageEmbeds.narrow(1, 1, imageEmbeds.shape[1] - 1)).max(1).values;
            lossTags = F.binary_cross_entropy_with_logits(clsLogits, targets).Plus(F.binary_cross_entropy_with_logits(patchLogits, targets)).DivBy(2.0);
        }
        Tensor? lossTagItm = null;
        // A batch whose items carry no tags (region phrases, say) has no tag pairs: the objective skips it.
        if (objectives.TagItm && batch.TagTexts is { } tagTexts)
        {
            var items = tensor(tagTexts.Items.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64, device: imageEmbeds.device);
            var tagText = Model.EncodeText(tagTexts.InputIds, tagTexts.AttentionMask);
            var tagLogits = Model.ItmLogits(Model.Fuse(tagText, tagTexts.AttentionMask, imageEmbeds.index_select(0, items)), tagTexts.AttentionMask);
            lossTagItm = F.cross_entropy(tagLogits, tagTexts.Labels ?? throw new InvalidOperationException("tag texts without labels"));
        }
        if (!objectives.Itc && !objectives.Itm && !objectives.Mlm && !objectives.Amc)
        {
            using (no_grad()) MomentumUpdate();
            var only = lossTags is null ? lossTagItm ?? zeros(new long[0], dtype: dtype, device: imageEmbeds.device).requires_grad_()
                : lossTagItm is null ? lossTags : lossTags.Plus(lossTagItm);
            return new PretrainLosses
            {
                Total = only.MoveToOuterDisposeScope(),
                Tags = lossTags?.detach().MoveToOuterDisposeScope(),
                TagItm = lossTagItm?.detach().MoveToOuterDisposeScope(),
            };
        }
        var imageFeat = Model.ImageFeatures(imageEmbeds);
        var textEmbeds = Model.EncodeText(ids, mask);
        var textFeat = Model.TextFeatures(textEmbeds);
        // The momentum encoders feed only the distillation targets and the queues: without both they are not run.
        bool momentumPass = distill || Config.QueueSize > 0;

        Tensor? imageEmbedsM = null;
        Tensor imageFeatAll, textFeatAll, targetsI2t, targetsT2i;
        using (no_grad())
        {
            MomentumUpdate();
            Tensor imageFeatM, textFeatM;
            if (momentumPass)
            {
                imageEmbedsM = Momentum.EncodeImage(batch.Images);
                imageFeatM = Momentum.ImageFeatures(imageEmbedsM);
                textFeatM = Momentum.TextFeatures(Momentum.EncodeText(ids, mask));
            }
            else
            {
                imageFeatM = imageFeat.detach();
                textFeatM = textFeat.detach();
            }
            imageFeatAll = cat(new[] { imageFeatM.t(), ImageQueue.clone() }, 1);
            textFeatAll = cat(new[] { textFeatM.t(), TextQueue.clone() }, 1);
            var oneHot = zeros(b, b + Config.QueueSize, dtype: dtype, device: imageFeat.device);
            oneHot.narrow(1, 0, b).copy_(eye(b, dtype: dtype, device: imageFeat.device));
            if (distill)
            {
                var simI2tM = imageFeatM.matmul(textFeatAll) / Model.temp;
                var simT2iM = textFeatM.matmul(imageFeatAll) / Model.temp;
                targetsI2t = simI2tM.softmax(1).MulBy(alpha).Plus(oneHot.MulBy(1 - alpha));
                targetsT2i = simT2iM.softmax(1).MulBy(alpha).Plus(oneHot.MulBy(1 - alpha));
            }
            else
            {
                targetsI2t = oneHot;
                targetsT2i = oneHot;
            }
            Enqueue(imageFeatM, textFeatM);
        }
        var simI2t = imageFeat.matmul(textFeatAll) / Model.temp;
        var simT2i = textFeat.matmul(imageFeatAll) / Model.temp;
        if (batch.TextFitsImage is { } fits)
        {
            // Items whose text is true of the image are left out of each other's softmax, not pushed apart.
            using var big = (-1e4).ToScalar();
            simI2t = simI2t.masked_fill(ExclusionMask(fits, Config.QueueSize, imageFeat.device), big);
            simT2i = simT2i.masked_fill(ExclusionMask(Transpose(fits), Config.QueueSize, imageFeat.device), big);
        }
        var lossI2t = -(simI2t.log_softmax(1) * targetsI2t).sum(1).mean();
        var lossT2i = -(simT2i.log_softmax(1) * targetsT2i).sum(1).mean();
        var lossItc = lossI2t.Plus(lossT2i).DivBy(2.0);

        bool amcOn = objectives.Amc && batch.BoxCount > 0;
        bool itmOn = objectives.Itm && b >= 2;
        Tensor? lossAmc = null;
        Tensor? positiveLogits = null;
        if (itmOn || amcOn)
            (positiveLogits, lossAmc) = PositivePass(batch, textEmbeds, imageEmbeds, amcOn, amcOptions);

        Tensor? lossItm = null;
        if (itmOn)
        {
            bool[,]? textFits = batch.TextFitsImage;
            long[] negativeImageForText = HardNegatives.Sample(simT2i.narrow(1, 0, b), generator, itmRandomNegatives, textFits is null ? null : Transpose(textFits));
            long[] negativeTextForImage = HardNegatives.Sample(simI2t.narrow(1, 0, b), generator, itmRandomNegatives, textFits);
            var device = ids.device;
            var imgIdx = tensor(negativeImageForText, dtype: ScalarType.Int64, device: device);
            var txtIdx = tensor(negativeTextForImage, dtype: ScalarType.Int64, device: device);
            var negativeText = textEmbeds.index_select(0, txtIdx);
            var negativeMask = mask.index_select(0, txtIdx);
            if (batch.SwappedNegatives is { } swapped)
            {
                // An item with a word-swapped text takes it as its image's negative text instead of the drawn one.
                var swappedEmbeds = Model.EncodeText(swapped.InputIds, swapped.AttentionMask);
                var pick = Enumerable.Range(0, b).Select(i => (long)i).ToArray();
                for (int r = 0; r < swapped.Items.Length; r++) pick[swapped.Items[r]] = b + r;
                var pickIdx = tensor(pick, dtype: ScalarType.Int64, device: device);
                negativeText = cat(new[] { negativeText, swappedEmbeds }, 0).index_select(0, pickIdx);
                negativeMask = cat(new[] { negativeMask, swapped.AttentionMask }, 0).index_select(0, pickIdx);
            }
            var textAll = cat(new[] { textEmbeds, negativeText }, 0);
            var maskAll = cat(new[] { mask, negativeMask }, 0);
            var imageAll = cat(new[] { imageEmbeds.index_select(0, imgIdx), imageEmbeds }, 0);
            var negativeLogits = Model.ItmLogits(Model.Fuse(textAll, maskAll, imageAll), maskAll);
            var logits = cat(new[] { positiveLogits!, negativeLogits }, 0);
            var labels = cat(new[] { ones(b, dtype: ScalarType.Int64, device: device), zeros(2 * b, dtype: ScalarType.Int64, device: device) }, 0);
            lossItm = F.cross_entropy(logits, labels);
        }

        Tensor? lossMlm = null;
        if (objectives.Mlm)
        {
            using var masked = MlmMasking.Mask(ids, mlmTokens, Config.MlmProbability, generator);
            var chosen = masked.Labels.IsNotEqualTo(MlmMasking.IgnoreIndex);
            if (chosen.any().ValueAsBoolean())
            {
                // The vocabulary projection only at the masked positions: the loss reads no other (the same values
                // as ALBEF's full-sequence logits with ignore_index, at ~15 % of the cost of the largest matmul).
                var positions = chosen.view(-1).nonzero().view(-1);
                Tensor AtMasked(Tensor hidden) => hidden.reshape(-1, hidden.shape[2]).index_select(0, positions);
                var logits = Model.MlmLogits(AtMasked(Model.Fuse(Model.EncodeText(masked.InputIds, mask), mask, imageEmbeds)));
                var ce = F.cross_entropy(logits, masked.Labels.view(-1).index_select(0, positions));
                if (distill)
                {
                    Tensor soft;
                    using (no_grad())
                        soft = Momentum.MlmLogits(AtMasked(Momentum.Fuse(Momentum.EncodeText(masked.InputIds, mask), mask, imageEmbedsM!))).softmax(-1);
                    var distillLoss = (-(logits.log_softmax(-1) * soft).sum(-1)).mean();
                    lossMlm = ce.MulBy(1 - alpha).Plus(distillLoss.MulBy(alpha));
                }
                else lossMlm = ce;
            }
        }

        Tensor total = zeros(new long[0], dtype: dtype, device: imageFeat.device);
        if (objectives.Itc) total = total.Plus(lossItc);
        if (lossItm is not null) total = total.Plus(lossItm);
        if (lossMlm is not null) total = total.Plus(lossMlm);
        if (lossAmc is not null) total = total.Plus(lossAmc);
        if (lossTags is not null) total = total.Plus(lossTags);
        if (lossTagItm is not null) total = total.Plus(lossTagItm);
        return new PretrainLosses
        {
            Tags = lossTags?.detach().MoveToOuterDisposeScope(),
            TagItm = lossTagItm?.detach().MoveToOuterDisposeScope(),
            Total = total.MoveToOuterDisposeScope(),
            Itc = objectives.Itc ? lossItc.detach().MoveToOuterDisposeScope() : null,
            Itm = lossItm?.detach().MoveToOuterDisposeScope(),
            Mlm = lossMlm?.detach().MoveToOuterDisposeScope(),
            Amc = lossAmc?.detach().MoveToOuterDisposeScope(),
            AmcSamples = amcOn ? batch.BoxCount : 0,
        };
    }

    /// <summary>
    /// The positive fusion pass: (B,2) ITM logits in batch order, and the AMC loss. Samples with a box run
    /// through the fusion layers as their own sub-batch while the GradCAM layer's attention is captured, so
    /// that the AMC GradCAM (d logit / dP) covers exactly those samples; caption-only samples run separately.
    /// </summary>
    private (Tensor Logits, Tensor? Amc) PositivePass(PretrainBatch batch, Tensor textEmbeds, Tensor imageEmbeds, bool amcOn, AmcLossOptions amcOptions)
    {
        var mask = batch.AttentionMask;
        if (!amcOn) return (Model.ItmLogits(Model.Fuse(textEmbeds, mask, imageEmbeds), mask), null);

        var device = mask.device;
        var boxRows = Enumerable.Range(0, batch.Size).Where(i => batch.HasBox[i]).Select(i => (long)i).ToArray();
        var otherRows = Enumerable.Range(0, batch.Size).Where(i => !batch.HasBox[i]).Select(i => (long)i).ToArray();
        var boxIdx = tensor(boxRows, dtype: ScalarType.Int64, device: device);
        // Trimmed to the box samples' own longest text: the AMC GradCAM (the authors' mean over the padded
        // length, then min-max with an epsilon) must not depend on the caption-only batch-mates.
        long boxLength = mask.index_select(0, boxIdx).sum(1).max().ValueAsInt64();
        var boxMask = mask.index_select(0, boxIdx).narrow(1, 0, boxLength);

        Tensor? otherLogits = null;
        if (otherRows.Length > 0)
        {
            var otherIdx = tensor(otherRows, dtype: ScalarType.Int64, device: device);
            var otherMask = mask.index_select(0, otherIdx);
            otherLogits = Model.ItmLogits(Model.Fuse(textEmbeds.index_select(0, otherIdx), otherMask, imageEmbeds.index_select(0, otherIdx)), otherMask);
        }

        Tensor boxLogits, amc;
        using (var capture = GradCam.CaptureAttention(Model))
        {
            boxLogits = Model.ItmLogits(Model.Fuse(textEmbeds.index_select(0, boxIdx).narrow(1, 0, boxLength), boxMask, imageEmbeds.index_select(0, boxIdx)), boxMask);
            var probs = capture.Probs ?? throw new InvalidOperationException("the GradCAM layer's attention was not captured");
            using var regions = batch.BoxMasks.index_select(0, boxIdx).to_type(Model.DType);
            using var result = AmcLoss.Compute(probs, boxLogits, boxMask, regions, Config.GridSize, Config.GridSize, amcOptions);
            amc = result.Total.alias();
        }
        if (otherLogits is null) return (boxLogits, amc);

        // Back to batch order: row i of the concatenation [box rows, other rows] is sample order[i].
        var order = boxRows.Concat(otherRows).ToArray();
        var inverse = new long[order.Length];
        for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
        var logits = cat(new[] { boxLogits, otherLogits }, 0).index_select(0, tensor(inverse, dtype: ScalarType.Int64, device: device));
        return (logits, amc);
    }

    /// <summary>(B, B + queue) mask of the similarity logits to leave out: [i, j] for batch items j whose text fits image i.</summary>
    private static Tensor ExclusionMask(bool[,] fits, long queueSize, Device device)
    {
        int b = fits.GetLength(0);
        var flat = new bool[b * (b + queueSize)];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
                flat[i * (b + queueSize) + j] = fits[i, j];
        return tensor(flat, new long[] { b, b + queueSize }, device: device);
    }

    private static bool[,] Transpose(bool[,] m)
    {
        int r = m.GetLength(0), c = m.GetLength(1);
        var t = new bool[c, r];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                t[j, i] = m[i, j];
        return t;
    }

    private static string MomentumName(string onlineName)
    {
        foreach (var (prefix, momentumPrefix) in MomentumPrefixes)
            if (onlineName.StartsWith(prefix)) return momentumPrefix + onlineName[prefix.Length..];
        throw new ArgumentException($"{onlineName} has no momentum twin");
    }

    /// <summary>
    /// The full training state dict under the public checkpoints' names: the model, the momentum copies
    /// (<c>*_m.*</c>), <c>image_queue</c>, <c>text_queue</c> and the queue pointer (<c>queue_ptr</c>, or
    /// <c>queue_ptr_img</c>/<c>queue_ptr_txt</c> when the loaded checkpoint used AMC's names). The tensors are
    /// detached handles on the live storage: dispose them, but copy before changing them.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var sd = new Dictionary<string, Tensor>();
        foreach (var (name, p) in Model.named_parameters()) sd[name] = p.detach();
        foreach (var (name, p) in Momentum.named_parameters())
            if (MomentumPrefixes.Any(m => name.StartsWith(m.Prefix))) sd[MomentumName(name)] = p.detach();
        foreach (var (name, p) in ExtraParameters) sd[name] = p.detach();
        sd["image_queue"] = ImageQueue.detach();
        sd["text_queue"] = TextQueue.detach();
        if (_amcPointerNaming)
        {
            sd["queue_ptr_img"] = tensor(new[] { QueuePointer }, dtype: ScalarType.Int64);
            sd["queue_ptr_txt"] = tensor(new[] { QueuePointer }, dtype: ScalarType.Int64);
        }
        else sd["queue_ptr"] = tensor(new[] { QueuePointer }, dtype: ScalarType.Int64);
        return sd;
    }

    /// <summary>
    /// Loads a training or evaluation state dict: the model through <see cref="AlbefWeights"/>; the momentum
    /// copies from <c>*_m.*</c> (from the model's weights where absent or mis-shaped); the queues when their
    /// shape is (embed_dim, queue_size) (else kept at random); <c>queue_ptr</c> or AMC's <c>queue_ptr_img</c>.
    /// </summary>
    public PretrainLoadReport LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict, string source)
    {
        var modelReport = AlbefWeights.Load(Model, stateDict, strict, source);
        var byName = new Dictionary<string, Tensor>();
        foreach (var (key, t) in stateDict) byName[AlbefWeights.CanonicalKey(key)] = t;
        var notes = new List<string>();
        int loaded = 0, fromModel = 0;
        using (no_grad())
        {
            foreach (var (online, momentum, name) in _momentumPairs)
            {
                if (byName.TryGetValue(MomentumName(name), out var src) && src.shape.SequenceEqual(momentum.shape))
                {
                    AlbefWeights.EnsureFloatWeight(src, MomentumName(name), source);
                    momentum.copy_(src);
                    loaded++;
                }
                else
                {
                    momentum.copy_(online);
                    fromModel++;
                }
            }
            // The tag head only when its shape fits (a later stage with other tags, or none, starts without it).
            bool tagHeadMissing = false;
            foreach (var (name, p) in ExtraParameters)
                if (byName.TryGetValue(name, out var src) && src.shape.SequenceEqual(p.shape)) p.copy_(AlbefWeights.EnsureFloatWeight(src, name, source));
                else tagHeadMissing = true;
            if (tagHeadMissing) notes.Add($"no tag head for this run's {TagHead!.out_features} tags: initialised at random");
            bool queuesLoaded = false;
            var queueShape = new long[] { Config.EmbedDim, Config.QueueSize };
            if (byName.TryGetValue("image_queue", out var iq) && byName.TryGetValue("text_queue", out var tq))
            {
                if (iq.shape.SequenceEqual(queueShape) && tq.shape.SequenceEqual(queueShape))
                {
                    AlbefWeights.EnsureFloatWeight(iq, "image_queue", source);
                    AlbefWeights.EnsureFloatWeight(tq, "text_queue", source);
                    ImageQueue.copy_(iq);
                    TextQueue.copy_(tq);
                    queuesLoaded = true;
                }
                else notes.Add($"queues of shape [{string.Join(", ", iq.shape)}] do not fit embed_dim x queue_size [{string.Join(", ", queueShape)}]: initialised at random");
            }
            _amcPointerNaming = byName.ContainsKey("queue_ptr_img") && !byName.ContainsKey("queue_ptr");
            var ptr = byName.GetValueOrDefault("queue_ptr") ?? byName.GetValueOrDefault("queue_ptr_img");
            QueuePointer = queuesLoaded && ptr is not null && Config.QueueSize > 0 ? ptr.to_type(ScalarType.Int64).flatten()[0].ValueAsInt64() % Config.QueueSize : 0;
            if (fromModel > 0 && loaded > 0) notes.Add($"{fromModel} momentum tensors were missing or mis-shaped and were copied from the model");
            return new PretrainLoadReport(modelReport, loaded, fromModel, queuesLoaded, notes);
        }
    }

    public void Dispose()
    {
        Momentum.Dispose();
        ImageQueue.Dispose();
        TextQueue.Dispose();
    }
}
