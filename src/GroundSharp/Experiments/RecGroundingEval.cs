using System.Diagnostics;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Eval;
using GroundSharp.Rec;
using static TorchSharp.torch;

namespace GroundSharp.Experiments;

/// <summary>
/// Evaluates a REC model on grounding items with the shared evaluation code, in the shape of the GradCAM
/// <see cref="EvalReport"/>: the chosen box is the anchor most similar to the phrase (Eq. 1), mapped back to
/// original pixels; <see cref="EvalReport.RecallAtK"/> R@1 is its IoU@0.5 accuracy (<see cref="Iou.Inclusive"/>,
/// <see cref="BoxSelection.CorrectIou"/>), R@k ranks the anchors by similarity, and R@K with K = top-k is the
/// share of phrases whose object has any anchor box at IoU ≥ 0.5 (the detector's ceiling for the model).
/// <see cref="EvalReport.Pointing"/> is the pointing game with the chosen box's centre, and
/// <see cref="EvalReport.Pairs"/> the pair accuracy of those points.
/// </summary>
public static class RecGroundingEval
{
    public static IReadOnlyList<int> RecallKs(RecModel model) => new[] { 1, 5, model.Config.TopK }.Where(k => k <= model.Config.TopK).Distinct().ToArray();

    /// <param name="images">The items' images, encoded; null only when there are no items (an empty shard: an empty report).</param>
    public static EvalReport Run(RecModel model, EncodedImages? images, IReadOnlyList<GroundingEvalItem> items, string dataset, string split, string modelName,
        int batchSize = 64, Action<int, int>? progress = null)
    {
        if (items.Count > 0 && images is null) throw new ArgumentNullException(nameof(images));
        var sw = Stopwatch.StartNew();
        var pointing = new AccuracyTable();
        var ks = RecallKs(model);
        var recall = ks.ToDictionary(k => k, _ => new AccuracyTable());
        var hits = new List<(string Image, IReadOnlyList<Box> GtBoxes, bool Hit)>();
        for (int start = 0; start < items.Count; start += batchSize)
        {
            var batch = items.Skip(start).Take(batchSize).ToList();
            using var scope = NewDisposeScope();
            var rows = batch.Select(it => (long)images!.Row(it.ImagePath)).ToArray();
            using var visual = images!.Visual.Select(rows);
            var order = model.Similarities(visual, batch.Select(it => it.Text).ToList()).argsort(1, descending: true).cpu();
            var boxes = visual.Boxes.to_type(ScalarType.Float64).cpu();
            for (int i = 0; i < batch.Count; i++)
            {
                var item = batch[i];
                var (w, h) = images!.Sizes[(int)rows[i]];
                var ranked = order[i].data<long>().ToArray().Select(a =>
                {
                    var b = boxes[i, a].data<double>().ToArray();
                    return DetectorInput.ToImage(new Box(b[0], b[1], b[2], b[3]), w, h, images!.InputSize);
                }).ToList();
                var chosen = ranked[0];
                var centre = RecGrounder.Centre(chosen);
                bool hit = PointingGame.IsHit(centre, item.GtBoxes);
                hits.Add((item.ImagePath, item.GtBoxes, hit));
                pointing.Add(hit, item.Split, item.Categories);
                foreach (var (k, table) in recall)
                    table.Add(ranked.Take(k).Any(box => item.GtBoxes.Any(gt => Iou.Inclusive(box, gt) >= BoxSelection.CorrectIou)), item.Split, item.Categories);
            }
            progress?.Invoke(Math.Min(start + batchSize, items.Count), items.Count);
        }
        var pairs = hits.GroupBy(h => h.Image)
            .Select(g => PointingGame.PairsOfImage(g.Select(h => (h.GtBoxes, h.Hit)).ToList()))
            .Aggregate(new HitCount(0, 0), (a, b) => a + b);
        return new EvalReport
        {
            Dataset = dataset,
            Split = split,
            Model = modelName,
            Shard = "0/1",
            Items = items.Count,
            Images = items.Select(i => i.ImagePath).Distinct().Count(),
            Seconds = sw.Elapsed.TotalSeconds,
            Pointing = pointing.ToReport(),
            Pairs = pairs,
            RecallAtK = recall.ToDictionary(kv => $"R@{kv.Key}", kv => kv.Value.ToReport()),
        };
    }

    /// <summary>
    /// Detection proposals for GradCAM box selection: the frozen detector's boxes (score ≥ <paramref name="minScore"/>)
    /// after class-agnostic NMS, the best <paramref name="maxProposals"/> by score, in original image pixels. No threshold by
    /// default, so every image has proposals (GradCAM box selection needs at least one).
    /// </summary>
    public static Dictionary<string, IReadOnlyList<Box>> Proposals(YoloV3 detector, IReadOnlyList<string> paths, int maxProposals,
        double minScore = 0.0, double nmsIou = 0.45, int chunkSize = 32) =>
        ScoredProposals(detector, paths, maxProposals, minScore, nmsIou, chunkSize)
            .ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Box>)kv.Value.Select(d => d.Box).ToList(), StringComparer.Ordinal);

    /// <summary><see cref="Proposals"/> with each box's detection score (objectness × class probability), best first.</summary>
    public static Dictionary<string, IReadOnlyList<Detection>> ScoredProposals(YoloV3 detector, IReadOnlyList<string> paths, int maxProposals,
        double minScore = 0.0, double nmsIou = 0.45, int chunkSize = 32, Action<int, int>? progress = null)
    {
        int inputSize = detector.Config.InputSize;
        var result = new Dictionary<string, IReadOnlyList<Detection>>(StringComparer.Ordinal);
        detector.eval();
        for (int start = 0; start < paths.Count; start += chunkSize)
        {
            var chunk = paths.Skip(start).Take(chunkSize).ToList();
            var (images, sizes) = DetectorInput.Load(chunk, inputSize);
            using (images)
            {
                var detections = detector.Detect(images, minScore, nmsIou);
                for (int i = 0; i < chunk.Count; i++)
                {
                    var agnostic = Nms.PerClass(detections[i].Select(d => d with { ClassIndex = 0 }).ToList(), nmsIou);
                    result[chunk[i]] = agnostic.OrderByDescending(d => d.Score).Take(maxProposals)
                        .Select(d => d with { Box = DetectorInput.ToImage(d.Box, sizes[i].Width, sizes[i].Height, inputSize) }).ToList();
                }
            }
            progress?.Invoke(Math.Min(start + chunkSize, paths.Count), paths.Count);
        }
        return result;
    }
}
