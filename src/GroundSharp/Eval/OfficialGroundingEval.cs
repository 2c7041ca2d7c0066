using static TorchSharp.torch;

namespace GroundSharp.Eval;

/// <summary>One Flickr30k Entities query: its image size, split and ground-truth boxes (x1,y1,x2,y2).</summary>
public sealed record FlickrGroundingItem(string Split, int ImageHeight, int ImageWidth, IReadOnlyList<Box> GtBoxes);

/// <summary>One RefCOCO-style query: image size, split, the referred box and the detector proposals of its image.</summary>
public sealed record RefGroundingItem(string Split, int ImageHeight, int ImageWidth, Box RefBox, IReadOnlyList<Box> Proposals);

/// <summary>Point-mode outcome of one query: the predicted point (x, y) and whether it hit.</summary>
public sealed record PointOutcome(int X, int Y, bool Hit);

/// <summary>
/// Proposal-ranking outcome of one query: the chosen proposal (index -1 and box null when no proposal scored
/// above 0), its score, its inclusive IoU with the referred box, and whether IoU ≥ 0.5.
/// </summary>
public sealed record BoxOutcome(int ChosenIndex, Box? ChosenBox, double Score, double Iou, bool Correct);

/// <summary>
/// Per-query outcomes (same order as the input), the official metrics dictionary (keys named as the official
/// code names them, in its order) and the same counts as an <see cref="AccuracyTable"/> keyed by those names.
/// </summary>
public sealed record GroundingEvalResult<TOutcome>(
    IReadOnlyList<TOutcome> Items, IReadOnlyDictionary<string, double> Metrics, AccuracyTable Table);

/// <summary>
/// The two evaluation functions of the official AMC/ALBEF code (dataset/utils.py), end to end on GradCAM grids:
/// <c>grounding_eval_flickr</c> (pointing game on Flickr30k Entities) and <c>grounding_eval</c> (RefCOCO-style,
/// pointing or proposal ranking, with or without <c>subset</c>). Grids are (h, w) tensors, one per item.
/// </summary>
public static class OfficialGroundingEval
{
    /// <summary>
    /// <c>grounding_eval_flickr</c>: hit if the first maximum of the upsampled map is strictly inside any GT box.
    /// Items of split "val" count toward "val_d", of split "test" toward "test"; other splits are not counted.
    /// A metric is present only if its split has items (as in the official code).
    /// </summary>
    public static GroundingEvalResult<PointOutcome> FlickrPointing(IReadOnlyList<Tensor> grids, IReadOnlyList<FlickrGroundingItem> items)
    {
        CheckCounts(grids.Count, items.Count);
        var outcomes = new List<PointOutcome>(items.Count);
        var table = new AccuracyTable();
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var gtBoxes = item.GtBoxes.Select(b => b.EnsureOverlapsImage(item.ImageWidth, item.ImageHeight, $"item {i}: GT box")).ToList();
            var point = Heatmaps.PredictPoint(grids[i], item.ImageHeight, item.ImageWidth);
            bool hit = PointingGame.IsHit(point, gtBoxes);
            outcomes.Add(new PointOutcome(point.X, point.Y, hit));
            string? metric = item.Split switch { "val" => "val_d", "test" => "test", _ => null };
            if (metric is not null)
                table.Add(hit, metric);
        }
        var metrics = new Dictionary<string, double>();
        foreach (var name in new[] { "val_d", "test" })
            if (table.Split(name).Accuracy is { } accuracy)
                metrics[name] = accuracy;
        return new(outcomes, metrics, table);
    }

    /// <summary>
    /// <c>grounding_eval(on_bbox=False)</c>: hit if the first maximum is strictly inside the referred box.
    /// </summary>
    public static GroundingEvalResult<PointOutcome> RefPointing(IReadOnlyList<Tensor> grids, IReadOnlyList<RefGroundingItem> items, bool subset)
    {
        CheckCounts(grids.Count, items.Count);
        var outcomes = new List<PointOutcome>(items.Count);
        var table = new AccuracyTable();
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var refBox = item.RefBox.EnsureOverlapsImage(item.ImageWidth, item.ImageHeight, $"item {i}: referred box");
            var point = Heatmaps.PredictPoint(grids[i], item.ImageHeight, item.ImageWidth);
            bool hit = PointingGame.IsInside(point, refBox);
            outcomes.Add(new PointOutcome(point.X, point.Y, hit));
            Count(table, hit, item.Split, subset);
        }
        return new(outcomes, RefMetrics(table, subset), table);
    }

    /// <summary>
    /// <c>grounding_eval(on_bbox=True)</c>: choose the proposal with the best score (sum of the upsampled map in
    /// the box / area^alpha, first on ties, only scores above 0) and count it correct if its inclusive IoU with
    /// the referred box is ≥ 0.5. A query where no proposal scores above 0 counts as incorrect.
    /// </summary>
    public static GroundingEvalResult<BoxOutcome> RefBoxRanking(IReadOnlyList<Tensor> grids, IReadOnlyList<RefGroundingItem> items,
        bool subset, double alpha = BoxSelection.OfficialAlpha)
    {
        CheckCounts(grids.Count, items.Count);
        var outcomes = new List<BoxOutcome>(items.Count);
        var table = new AccuracyTable();
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var refBox = item.RefBox.EnsureOverlapsImage(item.ImageWidth, item.ImageHeight, $"item {i}: referred box");
            using var up = Heatmaps.UpsampleBicubic(grids[i], item.ImageHeight, item.ImageWidth);
            var scores = BoxSelection.Scores(up, item.Proposals, alpha);
            int best = BoxSelection.SelectBest(scores);
            var outcome = best < 0
                ? new BoxOutcome(-1, null, double.NaN, 0, false)
                : MakeBoxOutcome(best, item.Proposals[best], scores[best], refBox);
            outcomes.Add(outcome);
            Count(table, outcome.Correct, item.Split, subset);
        }
        return new(outcomes, RefMetrics(table, subset), table);
    }

    /// <summary>Splits a stacked (N, h, w) tensor into N (h, w) views for the functions above.</summary>
    public static IReadOnlyList<Tensor> Unstack(Tensor stackedGrids)
    {
        if (stackedGrids.dim() != 3)
            throw new GroundSharpException($"stacked grids must be (N, h, w); got shape [{string.Join(", ", stackedGrids.shape)}]");
        return Enumerable.Range(0, (int)stackedGrids.shape[0]).Select(i => stackedGrids[i]).ToList();
    }

    private static BoxOutcome MakeBoxOutcome(int index, Box chosen, double score, Box refBox)
    {
        double iou = Iou.Inclusive(refBox, chosen);
        return new BoxOutcome(index, chosen, score, iou, iou >= BoxSelection.CorrectIou);
    }

    // subset: the three RefCOCO splits by name, anything else uncounted. Without subset: any split containing
    // "test" (testA, testB, test) pools into "test", "val" into "val_d".
    private static void Count(AccuracyTable table, bool hit, string split, bool subset)
    {
        string? metric = subset
            ? split switch { "val" => "val_d", "testA" => "testA_d", "testB" => "testB_d", _ => null }
            : split.Contains("test", StringComparison.Ordinal) ? "test" : split == "val" ? "val_d" : null;
        if (metric is not null)
            table.Add(hit, metric);
    }

    private static Dictionary<string, double> RefMetrics(AccuracyTable table, bool subset)
    {
        string[] names = subset ? ["val_d", "testA_d", "testB_d"] : ["val_d", "test"];
        var metrics = new Dictionary<string, double>();
        foreach (var name in names)
        {
            // The official code divides by each split's count unconditionally; say which one is empty instead.
            metrics[name] = table.Split(name).Accuracy
                ?? throw new GroundSharpException($"no items count toward '{name}' (the official grounding_eval needs every split: " +
                                                  (subset ? "val, testA and testB)" : "val and a test split)"));
        }
        return metrics;
    }

    private static void CheckCounts(int grids, int items)
    {
        if (grids != items)
            throw new GroundSharpException($"{grids} heatmaps for {items} items; each item needs its own heatmap");
    }
}
