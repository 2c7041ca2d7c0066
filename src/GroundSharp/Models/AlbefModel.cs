using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Models;

#pragma warning disable IDE1006, CS8618

/// <summary>
/// ALBEF (ViT + BERT with fusion layers + projections + ITM head + MLM head), laid out with the state-dict
/// names of the public ALBEF/AMC checkpoints. The momentum copies and queues used in pre-training are not
/// part of this module (they are training state).
/// </summary>
public sealed class AlbefModel : nn.Module
{
    public readonly VisionTransformer visual_encoder;
    public readonly AlbefTextEncoder text_encoder;
    public readonly Linear vision_proj;
    public readonly Linear text_proj;
    public readonly Linear itm_head;
    public readonly Parameter temp;

    public AlbefConfig Config { get; }

    /// <param name="seed">Seed of ALBEF's initialisation (null = a random one).</param>
    /// <param name="initialise">
    /// false: no initial values at all — ALBEF's are not drawn and the linear and embedding layers are only allocated
    /// (<see cref="Layers.Uninitialised"/>), so weights hold whatever the memory held — for a model whose every weight a
    /// checkpoint is about to overwrite (ALBEF-base on 2 cores: ~3.7 s of ALBEF's draws and ~0.7 s of TorchSharp's saved).
    /// </param>
    public AlbefModel(AlbefConfig config, long? seed = null, bool initialise = true) : base(nameof(AlbefModel))
    {
        using var allocateOnly = initialise ? null : Layers.Uninitialised();
        Config = config.Validate();
        visual_encoder = new VisionTransformer(config);
        text_encoder = new AlbefTextEncoder(config.Bert);
        vision_proj = Layers.Linear(config.VisionWidth, config.EmbedDim);
        text_proj = Layers.Linear(config.Bert.HiddenSize, config.EmbedDim);
        itm_head = Layers.Linear(config.Bert.HiddenSize, 2);
        temp = new Parameter(tensor((float)config.Temp));
        RegisterComponents();
        if (initialise) InitWeights(seed);
    }

    public BertModel Bert => text_encoder.bert;

    /// <summary>The ALBEF constructors' initialisation: ViT trunc_normal(0.02), BERT normal(0.02), LayerNorm 1/0, zero biases.</summary>
    /// <param name="only">Initialise only the parameters with these names (a checkpoint supplied the others); null = all.</param>
    internal void InitWeights(long? seed, IReadOnlySet<string>? only = null)
    {
        using var _ = no_grad();
        // Values are drawn with torch.randn/rand on a private generator: deterministic per seed, even while
        // other threads use the global one (TorchSharp's nn.init.* did not honour a generator reliably).
        using var gen = new Generator((ulong)(seed ?? Random.Shared.NextInt64()));
        double std = Config.Bert.InitializerRange;
        foreach (var (name, p) in named_parameters())
        {
            if (only is not null && !only.Contains(name)) continue;
            if (name.EndsWith("LayerNorm.weight") || name.EndsWith("norm1.weight") || name.EndsWith("norm2.weight") || name == "visual_encoder.norm.weight")
                p.FillWith(1.0);
            else if (name.EndsWith(".bias"))
                p.zero_();
            else if (name == "temp")
                p.FillWith(Config.Temp);
            else if (name.StartsWith("visual_encoder.patch_embed") && p.dim() == 1)
                p.FillWith(1.0); // the conv stem's GroupNorm scales
            else if (name.StartsWith("visual_encoder.patch_embed"))
            {
                // PyTorch's Conv2d default: kaiming_uniform(a=√5) = U(±1/√fan_in).
                double bound = 1.0 / Math.Sqrt(p.shape[1] * p.shape[2] * p.shape[3]);
                using var u = rand(p.shape, generator: gen);
                p.copy_(u.MulBy(2 * bound).Minus(bound));
            }
            else
            {
                // ViT: timm's trunc_normal_(std=.02) cuts at ±2 (absolute) = ±100σ, i.e. a plain normal; BERT: normal(0.02).
                double s = name.StartsWith("visual_encoder") ? 0.02
                    : IsCrossAttentionWeight(name) ? std * Config.CrossAttentionInitScale : std;
                using var n = randn(p.shape, generator: gen);
                p.copy_(n.MulBy(s).ClampInPlace(-2.0, 2.0));
            }
        }
    }

    private static bool IsCrossAttentionWeight(string name) =>
        name.Contains(".crossattention.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains("LayerNorm", StringComparison.Ordinal);

    /// <summary>(B,1,1,L) additive mask (1 - m) * -10000 in the model's dtype.</summary>
    public static Tensor ExtendedMask(Tensor attentionMask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var m = attentionMask.to_type(dtype).unsqueeze(1).unsqueeze(2);
        return m.SubtractedFrom(1.0).MulBy(-10000.0).MoveToOuterDisposeScope();
    }

    /// <summary>(1,1,1,1+N) additive mask that hides the image [CLS] key (position 0) from cross-attention.</summary>
    private static Tensor PatchesOnlyMask(long keys, ScalarType dtype, Device device)
    {
        var m = zeros(new[] { 1L, 1, 1, keys }, dtype: dtype, device: device);
        m[TensorIndex.Ellipsis, 0] = tensor(-10000.0, dtype: dtype, device: device);
        return m;
    }

    public ScalarType DType => itm_head.weight.dtype;
    public Device Device => itm_head.weight.device;

    /// <summary>ViT embeddings (B, 1+N, Dv) of normalised images (B,3,R,R).</summary>
    public Tensor EncodeImage(Tensor images) => visual_encoder.Forward(images.to(DType));

    /// <summary>BERT in "text" mode: embeddings, then layers [0, fusion_layer).</summary>
    public Tensor EncodeText(Tensor inputIds, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var mask = ExtendedMask(attentionMask, DType);
        var h = Bert.embeddings.Forward(inputIds);
        for (int i = 0; i < Config.Bert.FusionLayer; i++) h = Bert.Layer(i).Forward(h, mask, null, null);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// BERT in "fusion" mode over layers [from, to) (default: all fusion layers) on text hidden states,
    /// cross-attending to <paramref name="imageEmbeds"/> ((B or 1, 1+N, Dv); a batch of 1 is shared by all texts).
    /// </summary>
    public Tensor Fuse(Tensor textHidden, Tensor attentionMask, Tensor imageEmbeds, int? from = null, int? to = null)
    {
        using var scope = NewDisposeScope();
        var mask = ExtendedMask(attentionMask, DType);
        var imageMask = Config.FusionReadsImageCls ? null : PatchesOnlyMask(imageEmbeds.shape[1], DType, imageEmbeds.device);
        var h = textHidden;
        int start = from ?? Config.Bert.FusionLayer, end = to ?? Config.Bert.NumHiddenLayers;
        for (int i = start; i < end; i++) h = Bert.Layer(i).Forward(h, mask, imageEmbeds, imageMask);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ITM logits (B,2) from fusion hidden states; class 1 = match. The head reads the fused [CLS] (ALBEF), or with
    /// <see cref="AlbefConfig.ItmReadsTextMean"/> the mean over the text tokens that <paramref name="attentionMask"/> keeps.
    /// </summary>
    public Tensor ItmLogits(Tensor fusionHidden, Tensor attentionMask)
    {
        if (!Config.ItmReadsTextMean)
        {
            using var cls = fusionHidden.select(1, 0);
            return itm_head.forward(cls);
        }
        using var scope = NewDisposeScope();
        var m = attentionMask.to_type(fusionHidden.dtype).unsqueeze(-1);
        var mean = (fusionHidden * m).sum(1).div(m.sum(1));
        return itm_head.forward(mean).MoveToOuterDisposeScope();
    }

    /// <summary>L2-normalised projection of the image [CLS] (B, embed_dim).</summary>
    public Tensor ImageFeatures(Tensor imageEmbeds)
    {
        using var p = vision_proj.forward(imageEmbeds.select(1, 0));
        return F.normalize(p, dim: -1);
    }

    /// <summary>L2-normalised projection of the text [CLS] (B, embed_dim).</summary>
    public Tensor TextFeatures(Tensor textEmbeds)
    {
        using var p = text_proj.forward(textEmbeds.select(1, 0));
        return F.normalize(p, dim: -1);
    }

    /// <summary>MLM logits (B,L,vocab) from BERT hidden states.</summary>
    public Tensor MlmLogits(Tensor hidden) => text_encoder.cls.predictions.Forward(hidden);
}
