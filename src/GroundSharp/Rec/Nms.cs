using GroundSharp.Eval;

namespace GroundSharp.Rec;

/// <summary>Greedy non-maximum suppression on boxes in continuous pixel coordinates.</summary>
public static class Nms
{
    /// <summary>Plain (continuous) IoU: boxes are regions of the plane, the intersection is max(0, overlap) per axis.</summary>
    public static double ContinuousIou(Box a, Box b)
    {
        double iw = Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1);
        double ih = Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1);
        double intersection = iw > 0 && ih > 0 ? iw * ih : 0;
        double union = Math.Max(a.Area, 0) + Math.Max(b.Area, 0) - intersection;
        return union <= 0 ? 0 : intersection / union;
    }

    /// <summary>
    /// Keeps the highest-scoring detection, drops every other detection of the same class whose IoU with it is
    /// above <paramref name="iouThreshold"/>, and repeats. Equal scores keep their input order. Result is sorted by score.
    /// </summary>
    public static List<Detection> PerClass(IReadOnlyList<Detection> detections, double iouThreshold)
    {
        if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "must be in [0, 1]");
        var order = Enumerable.Range(0, detections.Count).OrderByDescending(i => detections[i].Score).ThenBy(i => i).ToList();
        var suppressed = new bool[detections.Count];
        var kept = new List<Detection>();
        foreach (int i in order)
        {
            if (suppressed[i]) continue;
            kept.Add(detections[i]);
            foreach (int j in order)
                if (!suppressed[j] && j != i && detections[j].ClassIndex == detections[i].ClassIndex
                    && ContinuousIou(detections[i].Box, detections[j].Box) > iouThreshold)
                    suppressed[j] = true;
            suppressed[i] = true;
        }
        return kept;
    }
}
