using GroundSharp.Explain;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Losses;

public enum AmcVariant
{
    /// <summary>The paper's loss: λ1·L_mean + λ2·L_max.</summary>
    MeanAndMax,
    MeanOnly,
    MaxOnly,
    /// <summary>Ablation of the paper (Table 6): 1 − cos(heatmap, mask), averaged over samples.</summary>
    CosineDistance,
}

public sealed record AmcLossOptions
{
    /// <summary>Δ1, the margin of L_mean.</summary>
    public double MarginMean { get; init; } = 0.1;
    /// <summary>Δ2, the margin of L_max.</summary>
    public double MarginMax { get; init; } = 0.5;
    /// <summary>λ1, the weight of L_mean.</summary>
    public double WeightMean { get; init; } = 0.2;
    /// <summary>λ2, the weight of L_max.</summary>
    public double WeightMax { get; init; } = 0.8;
    public AmcVariant Variant { get; init; } = AmcVariant.MeanAndMax;
}

/// <summary>The AMC loss and every intermediate (each kept in the autograd graph).</summary>
public sealed class AmcLossResult : IDisposable
{
    public required Tensor Total { get; init; }
    public required Tensor LMean { get; init; }
    public required Tensor LMax { get; init; }
    /// <summary>d(ITM match logit)/dP, kept differentiable (create_graph).</summary>
    public required Tensor AttentionGrad { get; init; }
    /// <summary>(B,h,w) GradCAM as the authors' training code computes it (mean over heads and the padded length).</summary>
    public required Tensor CamRaw { get; init; }
    /// <summary>(B,h,w) after ReLU and per-sample (x − min)/(max + 1e-7).</summary>
    public required Tensor CamNorm { get; init; }
    /// <summary>(B,H,W) bilinear upsampling of <see cref="CamNorm"/> to the mask size.</summary>
    public required Tensor CamUp { get; init; }
    public required Tensor AvgIn { get; init; }
    public required Tensor AvgOut { get; init; }
    public required Tensor MaxIn { get; init; }
    public required Tensor MaxOut { get; init; }

    public void Dispose()
    {
        foreach (var t in new[] { Total, LMean, LMax, AttentionGrad, CamRaw, CamNorm, CamUp, AvgIn, AvgOut, MaxIn, MaxOut }) t.Dispose();
    }
}

/// <summary>
/// Attention Mask Consistency (AMC, CVPR 2023): a margin loss that pushes the GradCAM explanation of the ITM
/// match score inside the annotated region. The GradCAM is built with <c>create_graph</c>, so the loss
/// differentiates through the explanation (a gradient of a gradient).
/// </summary>
public static class AmcLoss
{
    /// <param name="attention">P (B,heads,T,1+N): cross-attention probabilities of the GradCAM layer, captured with
    /// their graph during the positive fusion pass (see <see cref="GradCam.CaptureAttention"/>).</param>
    /// <param name="itmLogits">(B,2) ITM logits of that same pass.</param>
    /// <param name="attentionMask">(B,T) text mask.</param>
    /// <param name="boxMasks">(B,H,W) region masks (1 inside the box), at the mask size the maps are upsampled to.</param>
    public static AmcLossResult Compute(Tensor attention, Tensor itmLogits, Tensor attentionMask, Tensor boxMasks, int gridH, int gridW, AmcLossOptions? options = null)
    {
        var o = options ?? new AmcLossOptions();
        if (!attention.requires_grad) throw new ArgumentException("the attention probabilities must carry their autograd graph (capture them during a forward with grad enabled)");
        long b = attention.shape[0];
        if (boxMasks.dim() != 3 || boxMasks.shape[0] != b) throw new ArgumentException($"boxMasks must be (B,H,W) with B = {b}");

        using var scope = NewDisposeScope();
        var dtype = attention.dtype;
        // G = d itm[:,1] / dP with the graph kept: the loss is differentiated through it.
        var target = itmLogits.select(1, 1).sum();
        var grad = torch.autograd.grad(new[] { target }, new[] { attention }, retain_graph: true, create_graph: true)[0];

        // The authors' training code averages over the padded length T (their eps below makes the scale matter).
        var camRaw = GradCam.MapFromAttention(attention, grad, attentionMask, gridH, gridW, divideByOwnLength: false);
        var flat = camRaw.relu().view(b, -1);
        // (x − min) / (max + 1e-7), per sample, written out of place (the published in-place version cannot be back-propagated).
        var shifted = flat - flat.min(1, keepdim: true).values;
        var norm = shifted / shifted.max(1, keepdim: true).values.Plus(1e-7);
        var camNorm = norm.view(b, gridH, gridW);
        var camUp = F.interpolate(camNorm.unsqueeze(1), size: new[] { boxMasks.shape[1], boxMasks.shape[2] },
            mode: InterpolationMode.Bilinear, align_corners: false).squeeze(1);

        var m = boxMasks.to_type(dtype);
        var outside = m.SubtractedFrom(1.0);
        // Batch-pooled means, as the official code: one sum over all pairs / one sum of mask pixels.
        var avgIn = (camUp * m).sum() / m.sum();
        var avgOut = (camUp * outside).sum() / outside.sum();
        var zero = zeros(1, dtype: dtype, device: attention.device).squeeze();
        var lMean = maximum(zero, (avgOut - avgIn).Plus(o.MarginMean));
        var maxIn = (camUp * m).view(b, -1).max(1).values;
        var maxOut = (camUp * outside).view(b, -1).max(1).values;
        var lMax = (maxOut - maxIn).Plus(o.MarginMax).ClampMinZero().mean();

        var total = o.Variant switch
        {
            AmcVariant.MeanAndMax => lMean.MulBy(o.WeightMean).Plus(lMax.MulBy(o.WeightMax)),
            AmcVariant.MeanOnly => lMean.MulBy(1.0),
            AmcVariant.MaxOnly => lMax.MulBy(1.0),
            AmcVariant.CosineDistance => F.cosine_similarity(camUp.view(b, -1), m.view(b, -1), dim: 1, eps: 1e-8).SubtractedFrom(1.0).mean(),
            _ => throw new ArgumentOutOfRangeException(nameof(options), o.Variant, "unknown AMC variant"),
        };

        return new AmcLossResult
        {
            Total = total.MoveToOuterDisposeScope(),
            LMean = lMean.MoveToOuterDisposeScope(),
            LMax = lMax.MoveToOuterDisposeScope(),
            AttentionGrad = grad.MoveToOuterDisposeScope(),
            CamRaw = camRaw.MoveToOuterDisposeScope(),
            CamNorm = camNorm.MoveToOuterDisposeScope(),
            CamUp = camUp.MoveToOuterDisposeScope(),
            AvgIn = avgIn.MoveToOuterDisposeScope(),
            AvgOut = avgOut.MoveToOuterDisposeScope(),
            MaxIn = maxIn.MoveToOuterDisposeScope(),
            MaxOut = maxOut.MoveToOuterDisposeScope(),
        };
    }

    /// <summary>Binary (B,H,W) masks from boxes in mask pixels: <c>mask[y1:y2, x1:x2] = 1</c> (x2, y2 exclusive), as the fixture.</summary>
    public static Tensor BoxMasks(IReadOnlyList<(int X1, int Y1, int X2, int Y2)> boxes, int height, int width, ScalarType dtype = ScalarType.Float32)
    {
        var m = zeros(boxes.Count, height, width, dtype: dtype);
        using var _ = no_grad();
        for (int i = 0; i < boxes.Count; i++)
        {
            var (x1, y1, x2, y2) = boxes[i];
            x1 = Math.Clamp(x1, 0, width); x2 = Math.Clamp(x2, 0, width);
            y1 = Math.Clamp(y1, 0, height); y2 = Math.Clamp(y2, 0, height);
            if (x2 > x1 && y2 > y1) m[i, TensorIndex.Slice(y1, y2), TensorIndex.Slice(x1, x2)] = tensor(1.0, dtype: dtype);
        }
        return m;
    }
}
