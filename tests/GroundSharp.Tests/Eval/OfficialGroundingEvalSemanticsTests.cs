using GroundSharp.Eval;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Eval;

/// <summary>How split names and the subset flag decide what counts, on hand-made maps.</summary>
public class OfficialGroundingEvalSemanticsTests
{
    private const int Size = 160;

    // A 16x16 grid hot at one cell; on a 160x160 image its maximum lies inside [10c, 10c + 10).
    private static Tensor HotGrid(int row, int column)
    {
        var grid = zeros(16, 16);
        grid[row, column] = tensor(1f);
        return grid;
    }

    private static readonly Box Hot = Box.FromXyxy(40, 40, 60, 60);   // around cell (4, 4)
    private static readonly Box Cold = Box.FromXyxy(120, 120, 150, 150);

    private static RefGroundingItem Ref(string split, Box target) =>
        new(split, Size, Size, target, [Cold, Hot]);

    [Fact]
    public void FlickrCountsValAndTestAndOmitsAnEmptySplit()
    {
        var grids = Enumerable.Range(0, 3).Select(_ => HotGrid(4, 4)).ToList();
        var items = new[]
        {
            new FlickrGroundingItem("test", Size, Size, [Cold, Hot]),
            new FlickrGroundingItem("test", Size, Size, [Cold]),
            new FlickrGroundingItem("train", Size, Size, [Hot]), // not a split the official code counts
        };
        var result = OfficialGroundingEval.FlickrPointing(grids, items);
        Assert.Equal([true, false, true], result.Items.Select(o => o.Hit));
        Assert.Equal(["test"], result.Metrics.Keys);
        Assert.Equal(0.5, result.Metrics["test"]);
        Assert.Equal(new HitCount(1, 2), result.Table.Overall);
    }

    [Fact]
    public void SubsetKeepsTestAAndTestBApartAndWithoutSubsetTheyPool()
    {
        var grids = Enumerable.Range(0, 4).Select(_ => HotGrid(4, 4)).ToList();
        RefGroundingItem[] items = [Ref("val", Hot), Ref("testA", Hot), Ref("testB", Cold), Ref("testB", Hot)];

        var withSubset = OfficialGroundingEval.RefPointing(grids, items, subset: true);
        Assert.Equal(["val_d", "testA_d", "testB_d"], withSubset.Metrics.Keys);
        Assert.Equal([1.0, 1.0, 0.5], withSubset.Metrics.Values);

        var pooled = OfficialGroundingEval.RefPointing(grids, items, subset: false);
        Assert.Equal(["val_d", "test"], pooled.Metrics.Keys);
        Assert.Equal([1.0, 2.0 / 3], pooled.Metrics.Values);

        var boxes = OfficialGroundingEval.RefBoxRanking(grids, items, subset: true);
        Assert.All(boxes.Items, o => Assert.Equal(1, o.ChosenIndex));
        Assert.Equal([true, true, false, true], boxes.Items.Select(o => o.Correct));
    }

    [Fact]
    public void WithoutSubsetAPlainTestSplitCountsButWithSubsetItDoesNot()
    {
        var grids = Enumerable.Range(0, 4).Select(_ => HotGrid(4, 4)).ToList();
        RefGroundingItem[] items = [Ref("val", Hot), Ref("test", Hot), Ref("testA", Cold), Ref("testB", Cold)];
        Assert.Equal(1.0 / 3, OfficialGroundingEval.RefPointing(grids, items, subset: false).Metrics["test"], 15);
        var withSubset = OfficialGroundingEval.RefPointing(grids, items, subset: true);
        Assert.Equal(0.0, withSubset.Metrics["testA_d"]);
        Assert.Equal(3, withSubset.Table.Overall.Total); // the "test" item is not counted anywhere
    }

    [Fact]
    public void AMissingSplitIsAnErrorNamingIt()
    {
        var grids = new[] { HotGrid(4, 4) };
        var e = Assert.Throws<GroundSharpException>(() =>
            OfficialGroundingEval.RefPointing(grids, [Ref("val", Hot)], subset: true));
        Assert.Contains("testA_d", e.Message);
    }

    [Fact]
    public void ItemsAndHeatmapsMustPairUp()
    {
        Assert.Throws<GroundSharpException>(() =>
            OfficialGroundingEval.FlickrPointing([HotGrid(1, 1)], []));
    }

    [Fact]
    public void NoPositiveProposalScoreCountsAsIncorrect()
    {
        var grids = new[] { zeros(16, 16), HotGrid(4, 4), HotGrid(4, 4) };
        RefGroundingItem[] items = [Ref("val", Hot), Ref("testA", Hot), Ref("testB", Hot)];
        var result = OfficialGroundingEval.RefBoxRanking(grids, items, subset: true);
        Assert.Equal(-1, result.Items[0].ChosenIndex);
        Assert.Null(result.Items[0].ChosenBox);
        Assert.False(result.Items[0].Correct);
        Assert.Equal(0.0, result.Metrics["val_d"]);
    }

    [Fact]
    public void AGroundTruthBoxOutsideTheImageIsRejected()
    {
        var item = new FlickrGroundingItem("val", Size, Size, [Box.FromXyxy(200, 0, 250, 50)]);
        var e = Assert.Throws<GroundSharpException>(() => OfficialGroundingEval.FlickrPointing([HotGrid(4, 4)], [item]));
        Assert.Contains("outside", e.Message);
    }
}
