using GroundSharp.Eval;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

/// <summary>A ground-truth object for detector training: a box in network-input pixels and a class index.</summary>
public readonly record struct LabeledBox(Box Box, int ClassIndex);

/// <summary>The terms of <see cref="YoloLoss"/>, each summed over scales and divided by the batch size.</summary>
public sealed class DetectorLossTerms(Tensor total, Tensor box, Tensor objectness, Tensor classification) : IDisposable
{
    public Tensor Total { get; } = total;
    public Tensor Box { get; } = box;
    public Tensor Objectness { get; } = objectness;
    public Tensor Classification { get; } = classification;

    public void Dispose()
    {
        Total.Dispose();
        Box.Dispose();
        Objectness.Dispose();
        Classification.Dispose();
    }
}

/// <summary>
/// The YOLOv3 training loss. Each ground-truth box is assigned to the one anchor (of nine) whose shape best
/// matches it (IoU of the two boxes centred on each other), in the cell holding its centre at that anchor's
/// scale. That responsible anchor gets: binary cross-entropy of σ(tx), σ(ty) against the centre's offset in
/// the cell; squared error of tw, th against log(w / anchor_w), log(h / anchor_h) (both weighted by
/// 2 − w·h / S², which favours small boxes); objectness BCE with target 1; per-class BCE against the one-hot
/// class. Every other anchor gets objectness BCE with target 0, except those whose decoded box already
/// overlaps some ground truth with IoU above <see cref="IgnoreIou"/> (they are not penalised).
/// </summary>
public sealed class YoloLoss(DetectorConfig config)
{
    public const double IgnoreIou = 0.5;

    private readonly DetectorConfig _config = config;

    public DetectorLossTerms Compute(YoloV3 model, YoloOutput output, IReadOnlyList<IReadOnlyList<LabeledBox>> targets)
    {
        long batch = output.Raw[0].shape[0];
        if (targets.Count != batch) throw new ArgumentException($"{targets.Count} target lists for a batch of {batch} images", nameof(targets));
        foreach (var t in targets.SelectMany(t => t))
            if (t.ClassIndex < 0 || t.ClassIndex >= _config.NumClasses)
                throw new GroundSharpException($"a training box has class {t.ClassIndex}, but the detector has {_config.NumClasses} classes");

        using var scope = NewDisposeScope();
        var device = output.Raw[0].device;
        var boxLoss = zeros(1, device: device).squeeze();
        var objLoss = zeros(1, device: device).squeeze();
        var clsLoss = zeros(1, device: device).squeeze();
        for (int s = 0; s < 3; s++)
        {
            var raw = output.Raw[s];
            var t = BuildTargets(s, (int)raw.shape[2], (int)raw.shape[3], targets);
            Tensor T(float[] v, params long[] shape) => tensor(v, shape).to(device);
            long h = raw.shape[2], w = raw.shape[3];
            var responsible = T(t.Responsible, batch, 3, h, w);
            var background = T(t.Background, batch, 3, h, w);
            var weight = T(t.Weight, batch, 3, h, w);
            var offsets = T(t.Offsets, batch, 3, h, w, 4);
            var classes = T(t.Classes, batch, 3, h, w, _config.NumClasses);

            using (no_grad())
            {
                // Anchors whose current box already fits a ground truth are not pushed towards background.
                var decoded = model.Decode(raw.detach(), s);
                for (int b = 0; b < batch; b++)
                {
                    if (targets[b].Count == 0) continue;
                    var gt = tensor(targets[b].SelectMany(x => new[] { (float)x.Box.X1, (float)x.Box.Y1, (float)x.Box.X2, (float)x.Box.Y2 }).ToArray(), [targets[b].Count, 4]).to(device);
                    var best = PairwiseIou(decoded[b].narrow(-1, 0, 4).reshape(-1, 4), gt).max(1).values.view(3, h, w);
                    background[b].MaskedFillWithInPlace(best.IsGreaterThan(IgnoreIou), 0);
                }
            }

            var xyLoss = F.binary_cross_entropy_with_logits(raw.narrow(-1, 0, 2), offsets.narrow(-1, 0, 2), reduction: nn.Reduction.None).sum(-1);
            var whLoss = (raw.narrow(-1, 2, 2) - offsets.narrow(-1, 2, 2)).Squared().sum(-1).MulBy(0.5);
            boxLoss = boxLoss.Plus((xyLoss.Plus(whLoss) * weight * responsible).sum());
            var objBce = F.binary_cross_entropy_with_logits(raw[TensorIndex.Ellipsis, 4], responsible, reduction: nn.Reduction.None);
            objLoss = objLoss.Plus((objBce * responsible.Plus(background)).sum());
            var clsBce = F.binary_cross_entropy_with_logits(raw.narrow(-1, 5, _config.NumClasses), classes, reduction: nn.Reduction.None).sum(-1);
            clsLoss = clsLoss.Plus((clsBce * responsible).sum());
        }
        boxLoss = boxLoss.DivBy(batch);
        objLoss = objLoss.DivBy(batch);
        clsLoss = clsLoss.DivBy(batch);
        var total = boxLoss.Plus(objLoss).Plus(clsLoss);
        return new DetectorLossTerms(total.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope(),
            objLoss.MoveToOuterDisposeScope(), clsLoss.MoveToOuterDisposeScope());
    }

    /// <summary>IoU of every box in <paramref name="a"/> (N, 4) with every box in <paramref name="b"/> (M, 4), xyxy → (N, M).</summary>
    public static Tensor PairwiseIou(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var lt = maximum(a.narrow(1, 0, 2).unsqueeze(1), b.narrow(1, 0, 2).unsqueeze(0));
        var rb = minimum(a.narrow(1, 2, 2).unsqueeze(1), b.narrow(1, 2, 2).unsqueeze(0));
        var wh = (rb - lt).ClampMinZero();
        var inter = wh[TensorIndex.Ellipsis, 0] * wh[TensorIndex.Ellipsis, 1];
        var areaA = ((a[TensorIndex.Colon, 2] - a[TensorIndex.Colon, 0]) * (a[TensorIndex.Colon, 3] - a[TensorIndex.Colon, 1])).ClampMinZero();
        var areaB = ((b[TensorIndex.Colon, 2] - b[TensorIndex.Colon, 0]) * (b[TensorIndex.Colon, 3] - b[TensorIndex.Colon, 1])).ClampMinZero();
        var union = areaA.unsqueeze(1).Plus(areaB.unsqueeze(0)) - inter;
        return (inter / union.ClampMin(1e-9)).MoveToOuterDisposeScope();
    }

    private sealed record ScaleTargets(float[] Responsible, float[] Background, float[] Weight, float[] Offsets, float[] Classes);

    /// <summary>The index (0-8) of the anchor whose shape best matches a w×h box.</summary>
    public int BestAnchor(double width, double height)
    {
        int best = 0;
        double bestIou = -1;
        for (int a = 0; a < _config.Anchors.Length; a++)
        {
            double aw = _config.Anchors[a][0], ah = _config.Anchors[a][1];
            double inter = Math.Min(width, aw) * Math.Min(height, ah);
            double iou = inter / (width * height + aw * ah - inter);
            if (iou > bestIou) { bestIou = iou; best = a; }
        }
        return best;
    }

    private ScaleTargets BuildTargets(int scale, int h, int w, IReadOnlyList<IReadOnlyList<LabeledBox>> targets)
    {
        int batch = targets.Count, c = _config.NumClasses;
        int cells = batch * 3 * h * w;
        var t = new ScaleTargets(new float[cells], Enumerable.Repeat(1f, cells).ToArray(), new float[cells], new float[cells * 4], new float[cells * c]);
        double stride = DetectorConfig.Strides[scale];
        var mask = DetectorConfig.AnchorMask(scale);
        double imageArea = (double)_config.InputSize * _config.InputSize;
        for (int b = 0; b < batch; b++)
        {
            foreach (var (box, cls) in targets[b])
            {
                double bw = box.Width, bh = box.Height;
                if (!(bw > 0 && bh > 0)) continue;
                int anchor = Array.IndexOf(mask, BestAnchor(bw, bh));
                if (anchor < 0) continue;
                double cx = (box.X1 + box.X2) / 2 / stride, cy = (box.Y1 + box.Y2) / 2 / stride;
                int col = Math.Clamp((int)Math.Floor(cx), 0, w - 1), row = Math.Clamp((int)Math.Floor(cy), 0, h - 1);
                int i = ((b * 3 + anchor) * h + row) * w + col;
                var anchorSize = _config.Anchors[mask[anchor]];
                t.Responsible[i] = 1;
                t.Background[i] = 0;
                t.Weight[i] = (float)(2 - bw * bh / imageArea);
                t.Offsets[4 * i] = (float)Math.Clamp(cx - col, 0, 1);
                t.Offsets[4 * i + 1] = (float)Math.Clamp(cy - row, 0, 1);
                t.Offsets[4 * i + 2] = (float)Math.Log(bw / anchorSize[0]);
                t.Offsets[4 * i + 3] = (float)Math.Log(bh / anchorSize[1]);
                t.Classes[i * c + cls] = 1;
            }
        }
        return t;
    }
}
