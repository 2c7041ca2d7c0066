using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using GroundSharp.Data;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Explain;
using static TorchSharp.torch;

namespace GroundSharp.Eval;

public sealed record EvalOptions
{
    /// <summary>Evaluate only images with index % ShardCount == ShardIndex (whole images stay in one shard).</summary>
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    public bool UseProposals { get; init; }
    public double Alpha { get; init; } = BoxSelection.OfficialAlpha;
    public IReadOnlyList<int> RecallKs { get; init; } = new[] { 1, 5, 10 };
    /// <summary>Stop after this many items (a quick look); null = all.</summary>
    public int? Limit { get; init; }
}

/// <summary>The result of an evaluation (or of one shard): mergeable counts, plus provenance.</summary>
public sealed record EvalReport
{
    public required string Dataset { get; init; }
    public required string Split { get; init; }
    public required string Model { get; init; }
    public required string Shard { get; init; }
    public required int Items { get; init; }
    public required int Images { get; init; }
    public required double Seconds { get; init; }
    /// <summary>Pointing game: hit when the first maximum of the upsampled map is strictly inside a GT box.</summary>
    public required AccuracyReport Pointing { get; init; }
    /// <summary>
    /// Pair accuracy (<see cref="PointingGame.PairsOfImage"/>): pairs of phrases of one image naming different
    /// objects where both are pointing hits. Null in reports written before it existed.
    /// </summary>
    public HitCount? Pairs { get; init; }
    /// <summary>With proposals: Recall@k (top-k by sum-in-box / area^alpha contains a box with IoU ≥ 0.5); R@1 is the IoU@0.5 accuracy.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, AccuracyReport>? RecallAtK { get; init; }
    /// <summary>Phrases whose every token is [UNK] for the vocabulary: counted in, but their points are chance.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int AllUnknownPhrases { get; init; }

    /// <summary>The warning an evaluation with <see cref="AllUnknownPhrases"/> must carry, or null.</summary>
    [JsonIgnore]
    public string? AllUnknownWarning => AllUnknownPhrases == 0 ? null
        : $"{AllUnknownPhrases} of {Items} phrases are all [UNK] for the model's vocabulary: the model sees none of their words, so their hits are chance (wrong --vocab?)";

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static EvalReport Merge(IReadOnlyList<EvalReport> shards)
    {
        if (shards.Count == 0) throw new GroundSharpException("nothing to merge");
        var first = shards[0];
        foreach (var s in shards)
            if (s.Dataset != first.Dataset || s.Split != first.Split || s.Model != first.Model)
                throw new GroundSharpException($"cannot merge shards of different runs ({s.Dataset}/{s.Split}/{s.Model} vs {first.Dataset}/{first.Split}/{first.Model})");
        var shardNames = shards.Select(s => s.Shard).ToList();
        if (shardNames.Distinct().Count() != shardNames.Count) throw new GroundSharpException("the same shard was given twice: " + string.Join(", ", shardNames));
        var pointing = shards.Select(s => AccuracyTable.FromReport(s.Pointing)).Aggregate(AccuracyTable.Merge);
        Dictionary<string, AccuracyReport>? recall = null;
        if (shards.All(s => s.RecallAtK is not null))
            recall = first.RecallAtK!.Keys.ToDictionary(k => k,
                k => shards.Select(s => AccuracyTable.FromReport(s.RecallAtK![k])).Aggregate(AccuracyTable.Merge).ToReport());
        return first with
        {
            Shard = string.Join("+", shardNames),
            Items = shards.Sum(s => s.Items),
            Images = shards.Sum(s => s.Images),
            Seconds = shards.Sum(s => s.Seconds),
            Pointing = pointing.ToReport(),
            Pairs = shards.All(s => s.Pairs is not null) ? shards.Aggregate(new HitCount(0, 0), (sum, s) => sum + s.Pairs!.Value) : null,
            RecallAtK = recall,
            AllUnknownPhrases = shards.Sum(s => s.AllUnknownPhrases),
        };
    }

    public string ToMarkdown()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Evaluation of `{Model}` on {Dataset} / {Split} ({Items} phrases, {Images} images, shard {Shard}).").AppendLine();
        sb.AppendLine("Pointing accuracy:").AppendLine();
        sb.AppendLine(AccuracyTable.FromReport(Pointing).ToMarkdown());
        if (AllUnknownWarning is { } unknown) sb.AppendLine().AppendLine("**Warning:** " + unknown + ".");
        if (Pairs is { } p)
            sb.AppendLine().AppendLine(p.Accuracy is { } a
                ? $"Pair accuracy (both phrases of a pair naming different objects of one image hit): {100 * a:F2} % of {p.Total} pairs."
                : "Pair accuracy: no image has two phrases naming different objects.");
        if (RecallAtK is not null)
        {
            sb.AppendLine().AppendLine("Box selection from proposals (IoU ≥ 0.5):").AppendLine();
            sb.AppendLine("| | " + string.Join(" | ", RecallAtK.Keys) + " |");
            sb.AppendLine("|---|" + string.Concat(RecallAtK.Keys.Select(_ => "---|")));
            sb.AppendLine("| overall | " + string.Join(" | ", RecallAtK.Values.Select(r => r.Overall.Accuracy is { } a ? $"{100 * a:F2}" : "–")) + " |");
        }
        return sb.ToString();
    }
}

/// <summary>
/// Runs GradCAM grounding over a dataset: each image is decoded and encoded once and all its phrases are
/// grounded in one batch; items must come grouped by image (as the readers emit them).
/// </summary>
public sealed class GroundingEvaluator(Grounder grounder, EvalOptions options)
{
    /// <param name="progress">called after each image with (items done, images done).</param>
    /// <param name="prediction">called for each phrase with its item, its grounding and whether it is a pointing hit.</param>
    public EvalReport Run(IEnumerable<GroundingEvalItem> items, string dataset, string split, string model, Action<int, int>? progress = null,
        Action<GroundingEvalItem, GroundingResult, bool>? prediction = null)
    {
        if (options.ShardCount < 1 || options.ShardIndex < 0 || options.ShardIndex >= options.ShardCount)
            throw new GroundSharpException($"bad shard {options.ShardIndex}/{options.ShardCount}: use i/n with 0 <= i < n");
        var pointing = new AccuracyTable();
        var pairs = new HitCount(0, 0);
        var recall = options.UseProposals ? options.RecallKs.ToDictionary(k => k, _ => new AccuracyTable()) : null;
        int itemCount = 0, imageCount = 0, imageIndex = -1, allUnknown = 0;
        var sw = Stopwatch.StartNew();
        foreach (var group in GroupByImage(items))
        {
            imageIndex++;
            if (imageIndex % options.ShardCount != options.ShardIndex) continue;
            var batch = options.Limit is { } limit ? group.Take(Math.Max(0, limit - itemCount)).ToList() : group;
            if (batch.Count == 0) break;
            var image = ImageLoader.Load(batch[0].ImagePath);
            foreach (var it in batch)
                foreach (var b in it.GtBoxes) b.EnsureOverlapsImage(image.Width, image.Height, $"{it.QueryId ?? it.Text}: ground-truth box");
            var results = grounder.Ground(image, batch.Select(i => i.Text).ToList());
            var hits = new List<(IReadOnlyList<Box>, bool)>();
            for (int i = 0; i < batch.Count; i++)
            {
                var item = batch[i];
                var r = results[i];
                if (r.AllUnknown) allUnknown++;
                bool hit = PointingGame.IsHit(r.Point, item.GtBoxes);
                hits.Add((item.GtBoxes, hit));
                pointing.Add(hit, item.Split, item.Categories);
                prediction?.Invoke(item, r, hit);
                if (recall is null) continue;
                if (item.Proposals is null || item.Proposals.Count == 0)
                    throw new GroundSharpException($"{item.QueryId ?? item.Text}: --proposals was given but this item has no proposals");
                using var up = Heatmaps.UpsampleBicubic(r.GridMap, r.GridHeight, r.GridWidth, r.ImageHeight, r.ImageWidth);
                var scores = BoxSelection.Scores(up, item.Proposals, options.Alpha);
                foreach (var (k, table) in recall)
                    table.Add(item.GtBoxes.Any(gt => BoxSelection.HitAtK(item.Proposals, scores, gt, k)), item.Split, item.Categories);
            }
            pairs += PointingGame.PairsOfImage(hits);
            itemCount += batch.Count;
            imageCount++;
            progress?.Invoke(itemCount, imageCount);
            if (options.Limit is { } l && itemCount >= l) break;
        }
        // An empty shard of a sharded run (more array tasks than images) is an empty report that merges to nothing, not a failure.
        if (itemCount == 0 && options.ShardCount == 1) throw new GroundSharpException($"no items to evaluate in {dataset} split '{split}'");
        return new EvalReport
        {
            Dataset = dataset,
            Split = split,
            Model = model,
            Shard = $"{options.ShardIndex}/{options.ShardCount}",
            Items = itemCount,
            Images = imageCount,
            Seconds = sw.Elapsed.TotalSeconds,
            Pointing = pointing.ToReport(),
            Pairs = pairs,
            RecallAtK = recall?.ToDictionary(kv => $"R@{kv.Key}", kv => kv.Value.ToReport()),
            AllUnknownPhrases = allUnknown,
        };
    }

    /// <summary>Consecutive items with the same image path, streamed.</summary>
    public static IEnumerable<List<GroundingEvalItem>> GroupByImage(IEnumerable<GroundingEvalItem> items)
    {
        List<GroundingEvalItem>? current = null;
        foreach (var item in items)
        {
            if (current is not null && current[0].ImagePath != item.ImagePath)
            {
                yield return current;
                current = null;
            }
            (current ??= new List<GroundingEvalItem>()).Add(item);
        }
        if (current is not null) yield return current;
    }

    /// <summary>
    /// Items from a GroundingSample JSON-lines file (samples with a box). <c>source</c> gives the categories,
    /// several separated by '/' as in Flickr30k Entities ("relational/star" counts under both).
    /// </summary>
    public static IEnumerable<GroundingEvalItem> FromSampleFile(string path, string split, string? imageRoot = null)
    {
        (string Path, int Width, int Height) size = ("", 0, 0);
        foreach (var (line, s) in GroundingSampleFile.ReadWithLines(path, imageRoot))
        {
            if (s.Box is not { } box) continue;
            box.EnsureHasArea($"{path}:{line}: ground-truth box");
            if (size.Path != s.ImagePath) { var (w, h) = ImageLoader.ReadSize(s.ImagePath); size = (s.ImagePath, w, h); }
            yield return new GroundingEvalItem(s.ImagePath, s.Text, split, s.Source is null ? Array.Empty<string>() : s.Source.Split('/', StringSplitOptions.RemoveEmptyEntries),
                new[] { box }, size.Width, size.Height, QueryId: $"{path}:{line}");
        }
    }
}
