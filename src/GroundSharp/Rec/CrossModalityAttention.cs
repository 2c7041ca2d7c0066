using GroundSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

/// <summary>
/// One layer of the paper's Cross-Modality Attention (Sec. 3.2, Fig. 3) on grid tokens X (B, H·W, C) and the
/// sentence vector Y (B, Dt):
/// <code>
/// F  = X + tanh(α_attn)  · MHSA(LN(X))                       (Eq. 2, gated as in Flamingo)
/// F  = F + tanh(α_ffn)   · FFN(LN(F))                        (2 linear layers + GELU, gated)
/// γ = MLP_γ(Y), β = MLP_β(Y);  F' = ReLU(γ ⊙ F + β)          (Eq. 3, 4: FiLM)
/// out = F + tanh(α_cross) · CrossAttn(Q = LN(F), K = V = F')  (Eq. 5)
/// </code>
/// Every α starts at 0, so a fresh layer returns X exactly: training starts from the frozen detector's features.
/// </summary>
public sealed class CmaLayer : nn.Module
{
    public readonly LayerNorm attn_norm;
    public readonly MultiHeadAttention self_attn;
    public readonly Parameter attn_gate;
    public readonly LayerNorm ffn_norm;
    public readonly GeluMlp ffn;
    public readonly Parameter ffn_gate;
    public readonly Linear film_gamma;
    public readonly Linear film_beta;
    public readonly LayerNorm cross_norm;
    public readonly MultiHeadAttention cross_attn;
    public readonly Parameter cross_gate;

    public CmaLayer(int dim, int textDim, int heads, int ffnHidden) : base(nameof(CmaLayer))
    {
        attn_norm = nn.LayerNorm(dim);
        self_attn = new MultiHeadAttention(dim, heads);
        attn_gate = new Parameter(zeros(1));
        ffn_norm = nn.LayerNorm(dim);
        ffn = new GeluMlp(dim, ffnHidden);
        ffn_gate = new Parameter(zeros(1));
        film_gamma = nn.Linear(textDim, dim);
        film_beta = nn.Linear(textDim, dim);
        cross_norm = nn.LayerNorm(dim);
        cross_attn = new MultiHeadAttention(dim, heads);
        cross_gate = new Parameter(zeros(1));
        RegisterComponents();
    }

    /// <summary>(B, N, C) grid tokens, (B, Dt) sentence vectors → (B, N, C).</summary>
    public Tensor Forward(Tensor x, Tensor sentence)
    {
        using var f = Context(x);
        return Condition(f, sentence);
    }

    /// <summary>The text-independent half: gated self-attention and feed-forward over the tokens (Eq. 2).</summary>
    public Tensor Context(Tensor x)
    {
        using var scope = NewDisposeScope();
        var normed = attn_norm.forward(x);
        var f = x.Plus(attn_gate.tanh() * self_attn.Forward(normed, normed));
        f = f.Plus(ffn_gate.tanh() * ffn.Forward(ffn_norm.forward(f)));
        return f.MoveToOuterDisposeScope();
    }

    /// <summary>The text-dependent half (Eq. 3–5): the tokens attend to their FiLM-modulated selves; (N, T, C) tokens, (N, Dt) sentences.</summary>
    public Tensor Condition(Tensor f, Tensor sentence)
    {
        using var scope = NewDisposeScope();
        var modulated = Film(f, sentence);
        var query = cross_norm.forward(f);
        var output = f.Plus(cross_gate.tanh() * cross_attn.Forward(query, modulated));
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Eq. 4: F' = ReLU(γ(Y) ⊙ F + β(Y)), γ and β broadcast over the grid positions.</summary>
    public Tensor Film(Tensor f, Tensor sentence)
    {
        using var gamma = film_gamma.forward(sentence).unsqueeze(1);
        using var beta = film_beta.forward(sentence).unsqueeze(1);
        using var affine = (gamma * f).Plus(beta);
        return F.relu(affine);
    }
}

/// <summary>A stack of <see cref="CmaLayer"/>s on a (B, C, H, W) grid; returns the same shape.</summary>
public sealed class CrossModalityAttention : nn.Module
{
    public readonly ModuleList<CmaLayer> layers;

    public CrossModalityAttention(int dim, int textDim, int heads, int ffnHidden, int layerCount) : base(nameof(CrossModalityAttention))
    {
        if (layerCount < 1) throw new GroundSharpException($"the CMA module needs at least one layer; got {layerCount}");
        layers = new ModuleList<CmaLayer>();
        for (int i = 0; i < layerCount; i++) layers.Add(new CmaLayer(dim, textDim, heads, ffnHidden));
        RegisterComponents();
    }

    public Tensor Forward(Tensor grid, Tensor sentence)
    {
        using var scope = NewDisposeScope();
        long b = grid.shape[0], c = grid.shape[1], h = grid.shape[2], w = grid.shape[3];
        var tokens = grid.flatten(2).transpose(1, 2);
        foreach (var layer in layers) tokens = layer.Forward(tokens, sentence);
        return tokens.transpose(1, 2).reshape(b, c, h, w).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Query-conditioned CMA at the anchor cells: the first layer's self-attention and feed-forward run over each
    /// image's whole grid (they do not depend on the text); then its FiLM and cross attention, and every later
    /// layer, run on the K anchor tokens only, under the given sentence. With <paramref name="allPairs"/> every image
    /// is conditioned on every sentence: (T, Dt) sentences → (T, B, K, C), entry [t, b] = image b under sentence t,
    /// so a text's positive and its negatives are computed under the same text. Otherwise sentence i conditions
    /// image i (T = B) → (B, K, C).
    /// </summary>
    /// <param name="grid">(B, C, H, W) fused grid.</param>
    /// <param name="cells">(B, K) flat cell indices of the anchors.</param>
    public Tensor AnchorFeatures(Tensor grid, Tensor cells, Tensor sentences, bool allPairs)
    {
        using var scope = NewDisposeScope();
        long b = grid.shape[0], c = grid.shape[1], k = cells.shape[1], t = sentences.shape[0];
        if (!allPairs && t != b) throw new ArgumentException($"{t} sentences for {b} images");
        var tokens = grid.flatten(2).transpose(1, 2);
        var context = layers[0].Context(tokens);
        var anchors = context.gather(1, cells.unsqueeze(-1).expand(b, k, c));       // (B, K, C)
        var conditioning = sentences;
        if (allPairs)
        {
            anchors = anchors.unsqueeze(0).expand(t, b, k, c).reshape(t * b, k, c);  // pair (t, b) at row t·B + b
            conditioning = sentences.repeat_interleave(b, dim: 0);
        }
        var x = layers[0].Condition(anchors, conditioning);
        foreach (var layer in layers.Skip(1)) x = layer.Forward(x, conditioning);
        return (allPairs ? x.view(t, b, k, c) : x).MoveToOuterDisposeScope();
    }

    /// <summary>The gate scalars α of every layer (attention, feed-forward, cross attention).</summary>
    public IEnumerable<Parameter> Gates => layers.SelectMany(l => new[] { l.attn_gate, l.ffn_gate, l.cross_gate });
}

/// <summary>
/// Multi-scale fusion of the detector's three feature maps onto the grid of one scale: each map goes through a
/// 1×1 conv to the fused width, is average-pooled (finer maps) or nearest-upsampled (coarser maps) to the target
/// grid, and the three are summed.
/// </summary>
public sealed class MultiScaleFusion : nn.Module
{
    public readonly ModuleList<Conv2d> projections;
    private readonly int _targetScale;

    public MultiScaleFusion(IReadOnlyList<int> inputChannels, int dim, int targetScale) : base(nameof(MultiScaleFusion))
    {
        _targetScale = targetScale;
        projections = new ModuleList<Conv2d>();
        foreach (var channels in inputChannels) projections.Add(nn.Conv2d(channels, dim, 1));
        RegisterComponents();
    }

    /// <summary>Feature maps per scale (Darknet order: strides 32, 16, 8) → (B, dim, H, W) at the target scale.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> features)
    {
        using var scope = NewDisposeScope();
        var target = features[_targetScale];
        long[] size = [target.shape[2], target.shape[3]];
        Tensor? sum = null;
        for (int s = 0; s < features.Count; s++)
        {
            var resized = ToGrid(projections[s].forward(features[s]), size);
            sum = sum is null ? resized : sum.Plus(resized);
        }
        return sum!.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A (B, C, h, w) map on the (H, W) grid: average-pooled when finer, nearest-upsampled when coarser. Both are
    /// linear per channel, so they commute with the 1×1 projections: the frozen maps can be resized once, before
    /// caching (a quarter of the stride-16 map's values, a sixteenth of the stride-8 map's), with the same result.
    /// </summary>
    public static Tensor ToGrid(Tensor map, long[] size) =>
        map.shape[2] > size[0] ? F.adaptive_avg_pool2d(map, size)
        : map.shape[2] < size[0] ? F.interpolate(map, size: size, mode: InterpolationMode.Nearest)
        : map.alias();
}
