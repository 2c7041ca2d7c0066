using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Eval;

/// <summary>
/// Choosing a box among detector proposals with an upsampled heatmap, as the official grounding_eval does
/// (its <c>on_bbox=True</c> mode): score = (sum of the map inside the box) / area^alpha, highest score wins.
/// </summary>
public static class BoxSelection
{
    /// <summary>The alpha of the official evaluation script.</summary>
    public const double OfficialAlpha = 0.5;

    /// <summary>The IoU at which a chosen box counts as correct.</summary>
    public const double CorrectIou = 0.5;

    /// <summary>
    /// The official proposal score <c>up[int(y):int(y+h), int(x):int(x+w)].sum() / (w*h)**alpha</c>.
    /// The pixel range follows Python slicing exactly: coordinates are truncated toward zero, ends past the
    /// image are clipped, and a negative start counts from the far edge (Python's negative index). The area is
    /// the proposal's own w * h, not the clipped pixel count. Computed in float32 like the official tensor math.
    /// </summary>
    public static double Score(Tensor upsampled, Box proposal, double alpha = OfficialAlpha)
    {
        if (upsampled.dim() != 2)
            throw new GroundSharpException($"an upsampled heatmap must be 2-D; got shape [{string.Join(", ", upsampled.shape)}]");
        proposal.EnsureWellFormed("proposal");
        var (rowStart, rowStop) = PythonSliceRange(proposal.Y1, proposal.Y2, upsampled.shape[0]);
        var (colStart, colStop) = PythonSliceRange(proposal.X1, proposal.X2, upsampled.shape[1]);
        using var scope = NewDisposeScope();
        var inside = upsampled[TensorIndex.Slice(rowStart, rowStop), TensorIndex.Slice(colStart, colStop)];
        // sum() of an empty slice is 0, and 0 / 0 (a zero-area box) is NaN, which never wins: as in PyTorch.
        var score = inside.sum().DivBy(Math.Pow(proposal.Area, alpha));
        return score.item<float>();
    }

    /// <summary>Scores of all proposals on one upsampled heatmap, in the proposals' order.</summary>
    public static double[] Scores(Tensor upsampled, IReadOnlyList<Box> proposals, double alpha = OfficialAlpha)
    {
        var scores = new double[proposals.Count];
        for (int i = 0; i < scores.Length; i++)
            scores[i] = Score(upsampled, proposals[i], alpha);
        return scores;
    }

    /// <summary>
    /// Index of the chosen proposal: the official loop starts from a best score of 0 and replaces it only on a
    /// strictly greater score, so the first of equal scores wins and a proposal scoring 0 or less (or NaN) is
    /// never chosen. Returns -1 when no score is positive (the official code would then reuse the previous
    /// item's box, or fail on the first item).
    /// </summary>
    public static int SelectBest(IReadOnlyList<double> scores)
    {
        int best = -1;
        double bestScore = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (scores[i] > bestScore)
            {
                best = i;
                bestScore = scores[i];
            }
        }
        return best;
    }

    /// <summary>
    /// Proposal indices from best to worst, keeping only those the official rule could choose (score &gt; 0);
    /// equal scores keep their input order, so element 0 is <see cref="SelectBest"/>.
    /// </summary>
    public static int[] RankEligible(IReadOnlyList<double> scores) =>
        Enumerable.Range(0, scores.Count)
            .Where(i => scores[i] > 0)
            .OrderByDescending(i => scores[i]) // a stable sort: ties stay in input order
            .ToArray();

    /// <summary>
    /// Recall@k for one query: true when any of the k best-ranked proposals (see <see cref="RankEligible"/>)
    /// has inclusive IoU ≥ <paramref name="iouThreshold"/> with the target. Recall@1 is the official accuracy.
    /// </summary>
    public static bool HitAtK(IReadOnlyList<Box> proposals, IReadOnlyList<double> scores, Box target, int k,
        double iouThreshold = CorrectIou)
    {
        if (proposals.Count != scores.Count)
            throw new GroundSharpException($"{proposals.Count} proposals but {scores.Count} scores");
        if (k < 1)
            throw new GroundSharpException($"k must be at least 1; got {k}");
        return RankEligible(scores).Take(k).Any(i => Iou.Inclusive(target, proposals[i]) >= iouThreshold);
    }

    /// <summary>Recall@k for each k over many queries: the fraction of queries with a hit in their top k.</summary>
    public static IReadOnlyDictionary<int, double> RecallAtK(
        IEnumerable<RankedProposals> queries,
        IReadOnlyList<int> ks, double iouThreshold = CorrectIou)
    {
        var hits = new int[ks.Count];
        int count = 0;
        foreach (var query in queries)
        {
            count++;
            for (int j = 0; j < ks.Count; j++)
                if (HitAtK(query.Proposals, query.Scores, query.Target, ks[j], iouThreshold))
                    hits[j]++;
        }
        if (count == 0)
            throw new GroundSharpException("Recall@k needs at least one query");
        var recall = new Dictionary<int, double>();
        for (int j = 0; j < ks.Count; j++)
            recall[ks[j]] = (double)hits[j] / count;
        return recall;
    }

    /// <summary>[start, stop) of the Python slice <c>a[int(from):int(to)]</c> on an axis of the given length.</summary>
    internal static (long Start, long Stop) PythonSliceRange(double from, double to, long length)
    {
        long start = NormaliseSliceBound((long)Math.Truncate(from), length);
        long stop = NormaliseSliceBound((long)Math.Truncate(to), length);
        return (start, Math.Max(start, stop));
    }

    private static long NormaliseSliceBound(long bound, long length)
    {
        if (bound < 0)
            bound += length;
        return Math.Clamp(bound, 0, length);
    }
}

/// <summary>One query for Recall@k: its proposals, their scores (same order) and the target box.</summary>
public sealed record RankedProposals(IReadOnlyList<Box> Proposals, IReadOnlyList<double> Scores, Box Target);
