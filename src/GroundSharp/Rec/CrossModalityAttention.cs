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
        using var scope = NewDisposeScope();
        var f = x.Plus(attn_gate.tanh() * self_attn.Forward(attn_norm.forward(x), attn_norm.forward(x)));
        f = f.Plus(ffn_gate.tanh() * ffn.Forward(ffn_norm.forward(f)));
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
            var projected = projections[s].forward(features[s]);
            var resized = projected.shape[2] > size[0] ? F.adaptive_avg_pool2d(projected, size)
                : projected.shape[2] < size[0] ? F.interpolate(projected, size: size, mode: InterpolationMode.Nearest)
                : projected;
            sum = sum is null ? resized : sum.Plus(resized);
        }
        return sum!.MoveToOuterDisposeScope();
    }
}
