using System.Globalization;
using System.Text;

namespace GroundSharp.Eval;

/// <summary>Hits out of a total.</summary>
public readonly record struct HitCount(int Hits, int Total)
{
    /// <summary>Hits / Total, or null when nothing was counted.</summary>
    public double? Accuracy => Total == 0 ? null : (double)Hits / Total;

    public HitCount Add(bool hit) => new(Hits + (hit ? 1 : 0), Total + 1);

    public static HitCount operator +(HitCount a, HitCount b) => new(a.Hits + b.Hits, a.Total + b.Total);
}

/// <summary>One row of an <see cref="AccuracyReport"/>.</summary>
public sealed record AccuracyRow(string Name, int Hits, int Total, double? Accuracy);

/// <summary>
/// An <see cref="AccuracyTable"/> as plain data, for System.Text.Json (accuracy is null for an empty row,
/// since JSON has no NaN). Shards of an evaluation can each write one and be merged later.
/// </summary>
public sealed record AccuracyReport(AccuracyRow Overall, IReadOnlyList<AccuracyRow> Splits, IReadOnlyList<AccuracyRow> Categories);

/// <summary>
/// Accumulates hit/miss outcomes overall, by split (val, test, testA, ...) and by category (e.g. Flickr30k
/// entity types). An item may belong to several categories (a Flickr30k phrase can be both "people" and
/// "clothing"), so category rows need not add up to the overall count. Rows keep first-seen order.
/// </summary>
public sealed class AccuracyTable
{
    private readonly List<string> _splitOrder = [];
    private readonly Dictionary<string, HitCount> _splits = new(StringComparer.Ordinal);
    private readonly List<string> _categoryOrder = [];
    private readonly Dictionary<string, HitCount> _categories = new(StringComparer.Ordinal);

    public HitCount Overall { get; private set; }

    /// <summary>Split names in first-seen order.</summary>
    public IReadOnlyList<string> SplitNames => _splitOrder;

    /// <summary>Category names in first-seen order.</summary>
    public IReadOnlyList<string> CategoryNames => _categoryOrder;

    /// <summary>The count of a split (zero if never seen).</summary>
    public HitCount Split(string name) => _splits.GetValueOrDefault(name);

    /// <summary>The count of a category (zero if never seen).</summary>
    public HitCount Category(string name) => _categories.GetValueOrDefault(name);

    /// <summary>Counts one outcome overall, in its split (if any) and in each of its categories (if any).</summary>
    public void Add(bool hit, string? split = null, IEnumerable<string>? categories = null)
    {
        Overall = Overall.Add(hit);
        if (split is not null)
            Accumulate(_splits, _splitOrder, split, new HitCount(hit ? 1 : 0, 1));
        if (categories is not null)
            foreach (var category in categories.Distinct(StringComparer.Ordinal))
                Accumulate(_categories, _categoryOrder, category, new HitCount(hit ? 1 : 0, 1));
    }

    /// <summary>Adds every count of another table to this one (e.g. the shards of a sharded evaluation).</summary>
    public AccuracyTable MergeFrom(AccuracyTable other)
    {
        Overall += other.Overall;
        foreach (var name in other._splitOrder)
            Accumulate(_splits, _splitOrder, name, other._splits[name]);
        foreach (var name in other._categoryOrder)
            Accumulate(_categories, _categoryOrder, name, other._categories[name]);
        return this;
    }

    /// <summary>A new table holding the counts of both.</summary>
    public static AccuracyTable Merge(AccuracyTable first, AccuracyTable second) =>
        new AccuracyTable().MergeFrom(first).MergeFrom(second);

    public AccuracyReport ToReport() => new(
        Row("overall", Overall),
        _splitOrder.Select(n => Row(n, _splits[n])).ToList(),
        _categoryOrder.Select(n => Row(n, _categories[n])).ToList());

    /// <summary>Rebuilds a table from a report (e.g. one read back from a shard's JSON).</summary>
    public static AccuracyTable FromReport(AccuracyReport report)
    {
        var table = new AccuracyTable { Overall = Checked(report.Overall) };
        foreach (var row in report.Splits)
            Accumulate(table._splits, table._splitOrder, row.Name, Checked(row));
        foreach (var row in report.Categories)
            Accumulate(table._categories, table._categoryOrder, row.Name, Checked(row));
        return table;
    }

    /// <summary>A markdown table: one row overall, then one per split, then one per category.</summary>
    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine("| group | name | hits | total | accuracy |");
        text.AppendLine("| --- | --- | ---: | ---: | ---: |");
        AppendRow(text, "overall", "all", Overall);
        foreach (var name in _splitOrder)
            AppendRow(text, "split", name, _splits[name]);
        foreach (var name in _categoryOrder)
            AppendRow(text, "category", name, _categories[name]);
        return text.ToString();
    }

    private static void AppendRow(StringBuilder text, string group, string name, HitCount count)
    {
        string accuracy = count.Accuracy is { } a ? (100 * a).ToString("F2", CultureInfo.InvariantCulture) + "%" : "n/a";
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {group} | {name.Replace("|", "\\|")} | {count.Hits} | {count.Total} | {accuracy} |");
    }

    private static AccuracyRow Row(string name, HitCount count) => new(name, count.Hits, count.Total, count.Accuracy);

    private static HitCount Checked(AccuracyRow row)
    {
        if (row.Total < 0 || row.Hits < 0 || row.Hits > row.Total)
            throw new GroundSharpException($"accuracy row '{row.Name}' has {row.Hits} hits out of {row.Total}");
        return new HitCount(row.Hits, row.Total);
    }

    private static void Accumulate(Dictionary<string, HitCount> counts, List<string> order, string name, HitCount add)
    {
        if (counts.TryGetValue(name, out var existing))
            counts[name] = existing + add;
        else
        {
            counts[name] = add;
            order.Add(name);
        }
    }
}
