using System.Text.Json;
using GroundSharp.Eval;
using GroundSharp.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

public sealed record RecConfig
{
    public DetectorConfig Detector { get; init; } = new();
    public LanguageConfig Language { get; init; } = new();
    /// <summary>The detector scale whose grid is fused onto and whose anchors are ranked: 0 = stride 32 (13×13 at 416 px), 1 = 16, 2 = 8.</summary>
    public int GridScale { get; init; }
    /// <summary>Width of the fused grid features and the CMA module (the paper: 512).</summary>
    public int FusedDim { get; init; } = 512;
    /// <summary>Off: the RefCLIP baseline (fused detector features straight to the projection).</summary>
    public bool UseCma { get; init; } = true;
    public int CmaLayers { get; init; } = 1;
    public int CmaHeads { get; init; } = 8;
    public int CmaFfnHidden { get; init; } = 2048;
    /// <summary>Width of the shared anchor-text embedding space.</summary>
    public int EmbedDim { get; init; } = 512;
    /// <summary>Anchors kept per image: the grid cells with the highest objectness.</summary>
    public int TopK { get; init; } = 16;
    public RecLossConfig Loss { get; init; } = new();
    /// <summary>Which text conditions an image's CMA features in training (no effect without CMA); see <see cref="RecTextConditioning"/>.</summary>
    public RecTextConditioning TextConditioning { get; init; } = RecTextConditioning.Query;
    /// <summary>
    /// Adds each anchor's box geometry (x1, y1, x2, y2 over the input size and the area fraction, MAttNet's location
    /// feature) through a learnt projection to its features: our addition, not the paper's (docs/rec.md).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] // written only when on: configs from before the key read the same
    public bool AnchorPosition { get; init; }

    /// <summary>A config JSON file (snake_case keys; missing keys keep their defaults, unknown keys are an error).</summary>
    public static RecConfig Load(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"REC config '{path}' does not exist");
        return RecJson.Deserialize<RecConfig>(File.ReadAllText(path), path).Validate(path);
    }

    public RecConfig Validate(string source = "REC config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Detector.Validate(source + ", detector");
        Language.Validate(source + ", language");
        Loss.Validate(source + ", loss");
        Require(GridScale is >= 0 and <= 2, $"grid_scale ({GridScale}) must be 0 (stride 32), 1 (stride 16) or 2 (stride 8)");
        Require(FusedDim > 0 && EmbedDim > 0 && CmaFfnHidden > 0 && CmaLayers >= 1, "fused_dim, embed_dim, cma_ffn_hidden and cma_layers must be positive");
        Require(CmaHeads >= 1 && FusedDim % CmaHeads == 0, $"fused_dim ({FusedDim}) must be divisible by cma_heads ({CmaHeads})");
        Require(TopK >= 1, $"top_k ({TopK}) must be at least 1");
        return this;
    }
}

/// <summary>How the contrastive loss conditions the CMA features of the images it compares (docs/rec.md).</summary>
public enum RecTextConditioning
{
    /// <summary>The authors' way: image i is fused with its own expression, also where it serves as another text's negative.</summary>
    OwnText,
    /// <summary>Every image's anchors are scored under the query's expression (B×B conditioned passes, FiLM and cross attention at the K anchor cells), so a positive and its negatives are computed under the same text.</summary>
    Query,
}

/// <summary>
/// What the frozen detector gives the REC model for a batch of images: its three feature maps and the top-k
/// anchors of the grid scale. An anchor is a grid cell, represented by the most confident of its three anchor
/// boxes. The caller disposes it.
/// </summary>
public sealed class FrozenVisual(Tensor[] features, Tensor cells, Tensor boxes, Tensor objectness) : IDisposable
{
    /// <summary>(B, C_s, H, W) per scale, Darknet order, each resized to the grid scale's H × W.</summary>
    public Tensor[] Features { get; } = features;
    /// <summary>(B, K) int64 flat cell index (row · W + col) on the grid scale, by descending objectness.</summary>
    public Tensor Cells { get; } = cells;
    /// <summary>(B, K, 4) x1, y1, x2, y2 in input pixels.</summary>
    public Tensor Boxes { get; } = boxes;
    /// <summary>(B, K) sigmoid objectness.</summary>
    public Tensor Objectness { get; } = objectness;

    public long Count => Cells.shape[0];

    /// <summary>The rows of the given images (a batch out of a per-image cache); the caller disposes the result.</summary>
    public FrozenVisual Select(long[] imageIndices)
    {
        using var scope = NewDisposeScope();
        var index = tensor(imageIndices, device: Cells.device);
        var result = new FrozenVisual(Features.Select(f => f.index_select(0, index)).ToArray(), Cells.index_select(0, index),
            Boxes.index_select(0, index), Objectness.index_select(0, index));
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>Stacks the images of several encodings (in order) into one; the parts stay owned by the caller.</summary>
    public static FrozenVisual Concat(IReadOnlyList<FrozenVisual> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate", nameof(parts));
        return new FrozenVisual(
            Enumerable.Range(0, parts[0].Features.Length).Select(s => cat(parts.Select(p => p.Features[s]).ToArray(), 0)).ToArray(),
            cat(parts.Select(p => p.Cells).ToArray(), 0), cat(parts.Select(p => p.Boxes).ToArray(), 0), cat(parts.Select(p => p.Objectness).ToArray(), 0));
    }

    private void MoveToOuterDisposeScope()
    {
        foreach (var f in Features) f.MoveToOuterDisposeScope();
        Cells.MoveToOuterDisposeScope();
        Boxes.MoveToOuterDisposeScope();
        Objectness.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var f in Features) f.Dispose();
        Cells.Dispose();
        Boxes.Dispose();
        Objectness.Dispose();
    }
}

/// <summary>L2-normalised embeddings of the anchors (B, K, E), or (B, B, K, E) under every text, and of the texts (B, E).</summary>
public sealed class RecEmbeddings(Tensor anchors, Tensor texts) : IDisposable
{
    public Tensor Anchors { get; } = anchors;
    public Tensor Texts { get; } = texts;

    public void Dispose()
    {
        Anchors.Dispose();
        Texts.Dispose();
    }
}

/// <summary>The box chosen for one expression: its anchor's decoded box, the cosine similarity, the anchor's rank by objectness.</summary>
public readonly record struct RecPrediction(Box Box, double Similarity, int AnchorRank);

/// <summary>
/// Anchor-based weakly supervised REC (the paper's Fig. 2): a frozen YOLOv3 gives anchors and three feature
/// maps; the maps are fused onto one grid, refined by Cross-Modality Attention conditioned on the sentence
/// vector, and the features of the top-k anchors and the sentence are projected into a shared space where
/// the anchor with the highest cosine similarity is the answer (Eq. 1).
/// </summary>
public sealed class RecModel : nn.Module
{
    public readonly YoloV3 detector;
    public readonly MultiScaleFusion fusion;
    public readonly LanguageEncoder language;
    public readonly CrossModalityAttention? cma;
    public readonly Linear anchor_proj;
    public readonly Linear text_proj;
    public readonly Linear? position_proj;
    public readonly RecLoss loss;

    public const string ConfigMetadataKey = "groundsharp.rec.config";
    public const string VocabularyMetadataKey = "groundsharp.rec.vocabulary";

    public RecConfig Config { get; }
    public RecVocabulary Vocabulary { get; }

    /// <param name="detector">A trained detector to use (frozen here); null builds one from the config's detector part (to be filled by loading).</param>
    public RecModel(RecConfig config, RecVocabulary vocabulary, YoloV3? detector = null, long? seed = null) : base(nameof(RecModel))
    {
        config = config with { Language = config.Language with { VocabSize = vocabulary.Count }, Detector = detector?.Config ?? config.Detector };
        Config = config.Validate();
        Vocabulary = vocabulary;
        var ownDetector = new YoloV3(config.Detector, seed);
        fusion = new MultiScaleFusion(Enumerable.Range(0, 3).Select(config.Detector.FeatureChannels).ToArray(), config.FusedDim, config.GridScale);
        language = new LanguageEncoder(config.Language);
        cma = config.UseCma ? new CrossModalityAttention(config.FusedDim, config.Language.Hidden, config.CmaHeads, config.CmaFfnHidden, config.CmaLayers) : null;
        anchor_proj = nn.Linear(config.FusedDim, config.EmbedDim);
        text_proj = nn.Linear(config.Language.Hidden, config.EmbedDim);
        position_proj = config.AnchorPosition ? nn.Linear(5, config.FusedDim) : null;
        loss = new RecLoss(config.Loss);
        SeededInit.Apply(fusion, seed);
        SeededInit.Apply(language, seed + 1);
        if (cma is not null) SeededInit.Apply(cma, seed + 2);
        SeededInit.Apply(anchor_proj, seed + 3);
        SeededInit.Apply(text_proj, seed + 4);
        if (position_proj is not null) SeededInit.Apply(position_proj, seed + 5);
        if (detector is not null)
        {
            using var _ = no_grad();
            foreach (var (name, t) in detector.state_dict()) ownDetector.state_dict()[name].copy_(t);
        }
        this.detector = ownDetector;
        RegisterComponents();
        Freeze();
    }

    /// <summary>The detector never trains here: no gradients, batch norm on its running statistics.</summary>
    private void Freeze()
    {
        foreach (var p in detector.parameters()) p.requires_grad = false;
        detector.eval();
    }

    /// <summary>The parameters the REC training updates (everything but the detector).</summary>
    public List<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad).ToList();

    public Device Device => anchor_proj.weight!.device;

    /// <summary>Runs the frozen detector on (B, 3, S, S) images in [0, 1] and picks the top-k anchors of the grid scale.</summary>
    public FrozenVisual EncodeImages(Tensor images)
    {
        detector.eval(); // a train() on this model must not switch the frozen batch norms to batch statistics
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var output = detector.Forward(images.to(Device));
        int s = Config.GridScale;
        var decoded = detector.Decode(output.Raw[s], s);                     // (B, 3, H, W, 5+C)
        long b = decoded.shape[0], h = decoded.shape[2], w = decoded.shape[3];
        var (cellObjectness, bestAnchor) = decoded.select(-1, 4).max(1);   // (B, H, W) over the 3 anchors of a cell
        int k = (int)Math.Min(Config.TopK, h * w);
        var (objectness, cells) = cellObjectness.view(b, h * w).topk(k, dim: 1);
        var anchorOfCell = bestAnchor.view(b, h * w).gather(1, cells);     // (B, K)
        var flatBoxes = decoded.narrow(-1, 0, 4).reshape(b, 3 * h * w, 4);
        var boxIndex = anchorOfCell.MulBy(h * w).Plus(cells).unsqueeze(-1).expand(b, k, 4);
        var boxes = flatBoxes.gather(1, boxIndex);
        // Kept on the grid only (MultiScaleFusion.ToGrid commutes with the fusion's 1×1 projections): a cached image costs a fraction of its full maps.
        var features = output.Features.Select(f => MultiScaleFusion.ToGrid(f.detach(), [h, w]).MoveToOuterDisposeScope()).ToArray();
        return new FrozenVisual(features, cells.MoveToOuterDisposeScope(), boxes.MoveToOuterDisposeScope(), objectness.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Anchor and text embeddings for images (already encoded) and their (B, L) token ids; text i goes with image i.
    /// Anchors are (B, K, E), each image conditioned on its own text; with <paramref name="allPairs"/> and query
    /// conditioning they are (B, B, K, E), entry [t, b] = image b's anchors under text t.
    /// </summary>
    public RecEmbeddings Embed(FrozenVisual visual, Tensor tokenIds, bool allPairs = false)
    {
        using var scope = NewDisposeScope();
        using var text = language.Forward(tokenIds.to(Device));
        var grid = fusion.Forward(visual.Features);
        Tensor anchorFeatures;
        if (cma is not null && Config.TextConditioning == RecTextConditioning.Query)
            anchorFeatures = cma.AnchorFeatures(grid, visual.Cells, text.Sentence, allPairs);
        else
        {
            if (cma is not null) grid = cma.Forward(grid, text.Sentence);
            long b = grid.shape[0], d = grid.shape[1];
            var tokens = grid.flatten(2).transpose(1, 2);                                        // (B, H·W, D)
            anchorFeatures = tokens.gather(1, visual.Cells.unsqueeze(-1).expand(b, visual.Cells.shape[1], d));
        }
        if (position_proj is not null)
        {
            var position = position_proj.forward(AnchorGeometry(visual.Boxes.to(Device), Config.Detector.InputSize)); // (B, K, D)
            anchorFeatures = anchorFeatures.Plus(anchorFeatures.dim() == 4 ? position.unsqueeze(0) : position);
        }
        var anchors = F.normalize(anchor_proj.forward(anchorFeatures), dim: -1);
        var texts = F.normalize(text_proj.forward(text.Sentence), dim: -1);
        return new RecEmbeddings(anchors.MoveToOuterDisposeScope(), texts.MoveToOuterDisposeScope());
    }

    /// <summary>(B, K, 5): x1, y1, x2, y2 over the input size, clamped to [0, 1], and the box's share of the image.</summary>
    public static Tensor AnchorGeometry(Tensor boxes, int inputSize)
    {
        using var scope = NewDisposeScope();
        var corners = boxes.to_type(ScalarType.Float32).DivBy(inputSize).ClampInPlace(0.0, 1.0);
        var area = (corners.select(-1, 2) - corners.select(-1, 0)) * (corners.select(-1, 3) - corners.select(-1, 1));
        return cat([corners, area.unsqueeze(-1)], -1).MoveToOuterDisposeScope();
    }

    /// <summary>Runs <see cref="EncodeImages(Tensor)"/> over many images in chunks (bounded memory) and stacks the results: a per-image cache.</summary>
    public FrozenVisual EncodeImages(Tensor images, int chunkSize)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "must be at least 1");
        var parts = new List<FrozenVisual>();
        try
        {
            for (long start = 0; start < images.shape[0]; start += chunkSize)
            {
                using var chunk = images.narrow(0, start, Math.Min(chunkSize, images.shape[0] - start));
                parts.Add(EncodeImages(chunk));
            }
            return FrozenVisual.Concat(parts);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>Eq. 8 on a batch of image-expression pairs (one expression per image, distinct images).</summary>
    public RecLossTerms Loss(Tensor images, IReadOnlyList<string> texts)
    {
        using var visual = EncodeImages(images);
        return Loss(visual, texts);
    }

    /// <summary>Eq. 8 on images already encoded by the frozen detector (e.g. a batch selected from a cache).</summary>
    public RecLossTerms Loss(FrozenVisual visual, IReadOnlyList<string> texts)
    {
        using var ids = Vocabulary.EncodeBatch(texts, Config.Language.MaxLength);
        using var embeddings = Embed(visual, ids, allPairs: true);
        return loss.Compute(embeddings.Anchors, embeddings.Texts);
    }

    /// <summary>(B, K) cosine similarity of every anchor of image i to text i, in eval mode and without gradients.</summary>
    public Tensor Similarities(FrozenVisual visual, IReadOnlyList<string> texts)
    {
        if (visual.Count != texts.Count) throw new ArgumentException($"{visual.Count} images for {texts.Count} texts");
        bool wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            using var ids = Vocabulary.EncodeBatch(texts, Config.Language.MaxLength);
            using var embeddings = Embed(visual, ids);
            return (embeddings.Anchors * embeddings.Texts.unsqueeze(1)).sum(-1);
        }
        finally
        {
            train(wasTraining);
        }
    }

    /// <summary>For each (image i, text i): the decoded box of the anchor most similar to the text (Eq. 1).</summary>
    public List<RecPrediction> Predict(Tensor images, IReadOnlyList<string> texts)
    {
        if (images.shape[0] != texts.Count) throw new ArgumentException($"{images.shape[0]} images for {texts.Count} texts");
        bool wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            using var visual = EncodeImages(images);
            using var embeddings = Embed(visual, Vocabulary.EncodeBatch(texts, Config.Language.MaxLength));
            var similarity = (embeddings.Anchors * embeddings.Texts.unsqueeze(1)).sum(-1);   // (B, K)
            var (best, index) = similarity.max(1);
            var boxes = visual.Boxes.to_type(ScalarType.Float64).cpu();
            var result = new List<RecPrediction>();
            var bestValues = best.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            var indices = index.cpu().data<long>().ToArray();
            for (int i = 0; i < texts.Count; i++)
            {
                var box = boxes[i, indices[i]].data<double>().ToArray();
                result.Add(new RecPrediction(new Box(box[0], box[1], box[2], box[3]), bestValues[i], (int)indices[i]));
            }
            return result;
        }
        finally
        {
            train(wasTraining);
        }
    }

    /// <summary>Writes all weights (the detector's included) with the config and vocabulary as JSON metadata.</summary>
    public void Save(string path)
    {
        SafeTensors.Save(path, state_dict(), new Dictionary<string, string>
        {
            [ConfigMetadataKey] = RecJson.Serialize(Config),
            [VocabularyMetadataKey] = JsonSerializer.Serialize(Vocabulary.Words),
        });
    }

    /// <summary>Reads a model written by <see cref="Save"/>.</summary>
    public static RecModel Load(string path)
    {
        var (tensors, metadata) = SafeTensors.Load(path);
        try
        {
            if (!metadata.TryGetValue(ConfigMetadataKey, out var configJson) || !metadata.TryGetValue(VocabularyMetadataKey, out var vocabularyJson))
                throw new GroundSharpException($"'{path}' lacks the '{ConfigMetadataKey}' or '{VocabularyMetadataKey}' metadata: it is not a GroundSharp REC checkpoint");
            var config = RecJson.Deserialize<RecConfig>(configJson, path);
            // Checkpoints written before query conditioning existed were trained, and must be run, with their own text.
            using (var doc = JsonDocument.Parse(configJson))
                if (!doc.RootElement.TryGetProperty("text_conditioning", out _)) config = config with { TextConditioning = RecTextConditioning.OwnText };
            List<string> words;
            try { words = JsonSerializer.Deserialize<List<string>>(vocabularyJson) ?? []; }
            catch (JsonException e) { throw new GroundSharpException($"'{path}': the vocabulary metadata is not a JSON list of words: {ValueDescriptions.Of(e)}", e); }
            var model = new RecModel(config, new RecVocabulary(words), seed: 0);
            StateDicts.LoadStrict(model, tensors, path);
            return model;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
