using System.Text.Json;
using GroundSharp.Eval;
using Xunit;

namespace GroundSharp.Tests.Eval;

public class AccuracyTableTests
{
    private static AccuracyTable Sample()
    {
        var table = new AccuracyTable();
        table.Add(true, "val", ["people"]);
        table.Add(false, "val", ["people", "clothing"]);
        table.Add(true, "test", ["animals"]);
        table.Add(true, "test");
        return table;
    }

    [Fact]
    public void CountsOverallBySplitAndByCategory()
    {
        var table = Sample();
        Assert.Equal(new HitCount(3, 4), table.Overall);
        Assert.Equal(new HitCount(1, 2), table.Split("val"));
        Assert.Equal(new HitCount(2, 2), table.Split("test"));
        Assert.Equal(new HitCount(1, 2), table.Category("people"));
        Assert.Equal(new HitCount(0, 1), table.Category("clothing"));
        Assert.Equal(new HitCount(1, 1), table.Category("animals"));
        Assert.Equal(["val", "test"], table.SplitNames);
        Assert.Equal(["people", "clothing", "animals"], table.CategoryNames);
        Assert.Equal(0.75, table.Overall.Accuracy);
        Assert.Null(table.Split("train").Accuracy);
    }

    [Fact]
    public void ARepeatedCategoryOfOneItemCountsOnce()
    {
        var table = new AccuracyTable();
        table.Add(true, categories: ["people", "people"]);
        Assert.Equal(new HitCount(1, 1), table.Category("people"));
    }

    [Fact]
    public void MergingShardsEqualsCountingEverything()
    {
        var first = new AccuracyTable();
        first.Add(true, "val", ["people"]);
        first.Add(false, "val", ["people", "clothing"]);
        var second = new AccuracyTable();
        second.Add(true, "test", ["animals"]);
        second.Add(true, "test");

        var merged = AccuracyTable.Merge(first, second);
        var all = Sample();
        Assert.Equal(all.ToReport().Overall, merged.ToReport().Overall);
        Assert.Equal(all.ToReport().Splits, merged.ToReport().Splits);
        Assert.Equal(all.ToReport().Categories, merged.ToReport().Categories);
        Assert.Equal(new HitCount(1, 2), first.Split("val")); // Merge leaves its inputs alone

        first.MergeFrom(AccuracyTable.FromReport(first.ToReport())); // a shard merged with a copy of itself
        Assert.Equal(new HitCount(2, 4), first.Split("val"));
        Assert.Equal(new HitCount(2, 4), first.Category("people"));
    }

    [Fact]
    public void ReportRoundTripsThroughJson()
    {
        var table = Sample();
        string json = JsonSerializer.Serialize(table.ToReport());
        Assert.Contains("\"Accuracy\":0.75", json);
        var back = AccuracyTable.FromReport(JsonSerializer.Deserialize<AccuracyReport>(json)!);
        Assert.Equal(table.ToMarkdown(), back.ToMarkdown());
    }

    [Fact]
    public void ReportWithImpossibleCountsIsRejected()
    {
        var bad = new AccuracyReport(new AccuracyRow("overall", 5, 3, null), [], []);
        Assert.Throws<GroundSharpException>(() => AccuracyTable.FromReport(bad));
    }

    [Fact]
    public void MarkdownListsEveryRow()
    {
        string markdown = Sample().ToMarkdown();
        string[] lines = markdown.TrimEnd().Split('\n');
        Assert.Equal(2 + 1 + 2 + 3, lines.Length);
        Assert.Equal("| overall | all | 3 | 4 | 75.00% |", lines[2]);
        Assert.Equal("| split | val | 1 | 2 | 50.00% |", lines[3]);
        Assert.Equal("| category | clothing | 0 | 1 | 0.00% |", lines[6]);
    }
}
