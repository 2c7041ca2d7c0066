using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Explain;

/// <summary>GradCAM maps of one batch plus the pieces they were computed from.</summary>
public sealed class GradCamOutput : IDisposable
{
    /// <summary>(B, h, w) maps: mean over heads and each phrase's own tokens of P·max(G,0).</summary>
    public required Tensor Maps { get; init; }
    /// <summary>(B, 2) ITM logits; class 1 = match.</summary>
    public required Tensor ItmLogits { get; init; }
    /// <summary>(B, heads, T, 1+N) cross-attention probabilities of the GradCAM layer.</summary>
    public required Tensor Attention { get; init; }
    /// <summary>(B, heads, T, 1+N) d(ITM match logit)/d(attention).</summary>
    public required Tensor AttentionGrad { get; init; }

    public void Dispose()
    {
        Maps.Dispose(); ItmLogits.Dispose(); Attention.Dispose(); AttentionGrad.Dispose();
    }
}

/// <summary>
/// Keeps the cross-attention probabilities of one fusion layer, with their autograd graph, from every forward
/// through that layer while it is alive (training: the AMC loss differentiates through them).
/// </summary>
public sealed class AttentionCapture : IDisposable
{
    private readonly IDisposable _tap;
    private readonly List<Tensor> _captured = new();

    internal AttentionCapture(BertSelfAttention attention)
    {
        // The tap runs inside the layer's dispose scope: detach the handle from it (disposed with this capture).
        _tap = attention.TapProbabilities(p => { _captured.Add(p.DetachFromDisposeScope()); return p; });
    }

    /// <summary>The probabilities of the most recent forward, or null before the first.</summary>
    public Tensor? Probs => _captured.Count == 0 ? null : _captured[^1];

    /// <summary>All captured probabilities, in forward order.</summary>
    public IReadOnlyList<Tensor> All => _captured;

    public void Dispose()
    {
        _tap.Dispose();
        foreach (var t in _captured) t.Dispose();
        _captured.Clear();
    }
}

/// <summary>
/// GradCAM on ALBEF's cross-attention (DESIGN.md "GradCAM grounding"). The cam for a phrase is the mean
/// over heads and over the phrase's own tokens of P·max(G, 0) on the image-token columns, where P are the
/// GradCAM layer's cross-attention probabilities and G = d(ITM match logit)/dP.
/// </summary>
public static class GradCam
{
    /// <summary>
    /// P·max(G,0) averaged over heads and tokens, padded tokens zeroed. <paramref name="divideByOwnLength"/>:
    /// divide by each phrase's own token count (ours: independent of batch-mates) instead of the padded
    /// length T (the authors' code).
    /// </summary>
    public static Tensor MapFromAttention(Tensor probs, Tensor grads, Tensor attentionMask, int gridH, int gridW, bool divideByOwnLength = true)
    {
        using var scope = NewDisposeScope();
        long b = probs.shape[0], heads = probs.shape[1], t = probs.shape[2], n = probs.shape[3] - 1;
        if (n != (long)gridH * gridW) throw new ArgumentException($"attention has {n} image tokens, grid is {gridH}x{gridW}");
        var m = attentionMask.to_type(probs.dtype).view(b, 1, t, 1);
        var p = probs.narrow(3, 1, n);
        var g = grads.narrow(3, 1, n).ClampMinZero();
        var summed = (p * m * g * m).sum(new long[] { 1, 2 }); // (B, N)
        var denom = divideByOwnLength ? attentionMask.to_type(probs.dtype).sum(1, keepdim: true).MulBy(heads) : tensor((double)(heads * t), dtype: probs.dtype);
        return (summed / denom).view(b, gridH, gridW).MoveToOuterDisposeScope();
    }

    /// <summary>Starts capturing the GradCAM layer's attention probabilities (with graph) until disposed.</summary>
    public static AttentionCapture CaptureAttention(AlbefModel model, int? layer = null)
    {
        int g = layer ?? model.Config.EffectiveGradcamLayer;
        var cross = model.Bert.Layer(g).crossattention
            ?? throw new GroundSharpException($"GradCAM layer {g} has no cross-attention (fusion layers start at {model.Config.Bert.FusionLayer})");
        return new AttentionCapture(cross.self);
    }

    /// <summary>
    /// Inference GradCAM following the cost rule: the ViT, the text-only layers and the fusion layers below
    /// the GradCAM layer run without a graph; P is made a leaf, so autograd only covers the layers from the
    /// GradCAM layer up, and only <c>d logit / dP</c> is computed (torch.autograd.grad, no parameter grads).
    /// </summary>
    /// <param name="imageEmbeds">(1 or B, 1+N, Dv): one image shared by all phrases, or one image per phrase.</param>
    public static GradCamOutput ForGrounding(AlbefModel model, Tensor imageEmbeds, Tensor inputIds, Tensor attentionMask, int? layer = null)
    {
        var cfg = model.Config;
        int g = layer ?? cfg.EffectiveGradcamLayer;
        if (g < cfg.Bert.FusionLayer || g >= cfg.Bert.NumHiddenLayers)
            throw new GroundSharpException($"GradCAM layer {g} is not a fusion layer of this model (fusion layers: {cfg.Bert.FusionLayer}..{cfg.Bert.NumHiddenLayers - 1})");
        var cross = model.Bert.Layer(g).crossattention!.self;
        // Parameters must not record a graph here: only dP is wanted. Scoped, so that any exception restores them.
        using var frozen = new FrozenParameters(model);
        using var scope = NewDisposeScope();
        Tensor hidden;
        using (no_grad())
        {
            var text = model.EncodeText(inputIds, attentionMask);
            hidden = model.Fuse(text, attentionMask, imageEmbeds, cfg.Bert.FusionLayer, g);
        }

        Tensor? leaf = null;
        Tensor logits, probsGrad;
        // The tap runs inside the layer's dispose scope: keep the leaf alive past it (disposed below).
        using (cross.TapProbabilities(p => leaf = p.detach().requires_grad_(true).DetachFromDisposeScope()))
        {
            using var _ = enable_grad();
            var fused = model.Fuse(hidden.detach(), attentionMask, imageEmbeds.detach(), g, cfg.Bert.NumHiddenLayers);
            logits = model.ItmLogits(fused, attentionMask);
            if (leaf is null || !logits.requires_grad)
                throw new InvalidOperationException("GradCAM: the ITM logit does not depend on the attention probabilities (are parameters frozen inside enable_grad?)");
            var target = logits.select(1, 1).sum();
            probsGrad = torch.autograd.grad(new[] { target }, new[] { leaf }, retain_graph: false, create_graph: false)[0];
        }
        var probs = leaf!.detach();
        leaf.Dispose();
        var maps = MapFromAttention(probs, probsGrad, attentionMask, cfg.GridSize, cfg.GridSize);
        var result = new GradCamOutput
        {
            Maps = maps.MoveToOuterDisposeScope(),
            ItmLogits = logits.detach().MoveToOuterDisposeScope(),
            Attention = probs.MoveToOuterDisposeScope(),
            AttentionGrad = probsGrad.MoveToOuterDisposeScope(),
        };
        return result;
    }
}

/// <summary>Switches requires_grad off on a module's trainable parameters until disposed, then back on.</summary>
internal sealed class FrozenParameters : IDisposable
{
    private readonly List<TorchSharp.Modules.Parameter> _frozen;

    public FrozenParameters(nn.Module module)
    {
        _frozen = module.parameters().Where(p => p.requires_grad).ToList();
        foreach (var p in _frozen) p.requires_grad = false;
    }

    public void Dispose()
    {
        foreach (var p in _frozen) p.requires_grad = true;
    }
}
