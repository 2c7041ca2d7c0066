using System.Text.Json;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Explain;

namespace GroundSharp.Eval;

/// <summary>
/// The per-phrase predictions of an evaluation, one JSON object per line (<c>eval --save-predictions</c>,
/// docs/evaluation.md): the item (image, id, split, categories, ground-truth boxes), the grounding's fields as in
/// <c>ground</c>'s results.json (point, box, score, tokens, warnings; the grid map only when asked) and the hit.
/// </summary>
public static class PhrasePredictions
{
    /// <summary>The predictions file that goes with a report of this name ("report-shard0of2" → "predictions-shard0of2.jsonl").</summary>
    public static string FileFor(string reportName) => "predictions" + reportName["report".Length..] + ".jsonl";

    public static string ToJsonLine(GroundingEvalItem item, GroundingResult result, bool hit, bool withGridMap)
    {
        var line = new Dictionary<string, object?>
        {
            ["image"] = item.ImagePath,
            ["id"] = item.QueryId,
            ["split"] = item.Split,
            ["categories"] = item.Categories,
        };
        foreach (var (key, value) in GroundingResultJson.Fields(result))
            if (withGridMap || key != "gridMap") line[key] = value;
        line["gtBoxes"] = item.GtBoxes.Select(b => new[] { b.X1, b.Y1, b.X2, b.Y2 });
        line["hit"] = hit;
        return JsonSerializer.Serialize(line);
    }
}
