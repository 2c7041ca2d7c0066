using GroundSharp.Eval;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Eval;

public class BoxSelectionTests
{
    // A 4 x 6 map whose value at (row r, column c) is 10 r + c, so every sum says which pixels it covered.
    private static Tensor Map() => tensor(
        Enumerable.Range(0, 4).SelectMany(r => Enumerable.Range(0, 6).Select(c => (float)(10 * r + c))).ToArray(), 4, 6);

    [Fact]
    public void ScoreSumsTheSliceAndDividesBySqrtArea()
    {
        using var map = Map();
        // rows 1..2, columns 1..2: 11 + 12 + 21 + 22 = 66, area 4.
        Assert.Equal(66 / 2.0, BoxSelection.Score(map, Box.FromXywh(1, 1, 2, 2)), 5);
        Assert.Equal(66 / 4.0, BoxSelection.Score(map, Box.FromXywh(1, 1, 2, 2), alpha: 1), 5);
    }

    [Fact]
    public void FractionalCoordinatesAreTruncatedButTheAreaIsNot()
    {
        using var map = Map();
        // int(0.9) = 0 .. int(2.4) = 2: rows 0..1, columns 0..1 -> 0 + 1 + 10 + 11 = 22; area 1.5 * 1.5.
        Assert.Equal(22 / 1.5, BoxSelection.Score(map, Box.FromXywh(0.9, 0.9, 1.5, 1.5)), 5);
    }

    [Fact]
    public void SliceEndsPastTheImageAreClipped()
    {
        using var map = Map();
        // rows 2..3, columns 4..5 -> 24 + 25 + 34 + 35 = 118; area 100 (the proposal's, not the clipped one).
        Assert.Equal(118 / 10.0, BoxSelection.Score(map, Box.FromXywh(4, 2, 10, 10)), 5);
    }

    [Fact]
    public void NegativeStartsCountFromTheFarEdgeAsInPython()
    {
        using var map = Map();
        // columns int(-2) = -2 -> 4 .. int(1) = 1: an empty slice, score 0.
        Assert.Equal(0.0, BoxSelection.Score(map, Box.FromXywh(-2, 0, 3, 1)));
        // columns -2 -> 4 .. int(5.5) = 5: column 4 only; rows 0..0 -> 4 / sqrt(7.5).
        Assert.Equal(4 / Math.Sqrt(7.5), BoxSelection.Score(map, Box.FromXywh(-2, 0, 7.5, 1)), 5);
        // int(-0.5) = 0: truncation toward zero, so a slightly negative start does not wrap.
        Assert.Equal((0 + 1) / Math.Sqrt(2.5), BoxSelection.Score(map, Box.FromXywh(-0.5, 0, 2.5, 1)), 5);
    }

    [Fact]
    public void ZeroAreaProposalNeverWins()
    {
        using var map = Map();
        Assert.True(double.IsNaN(BoxSelection.Score(map, Box.FromXywh(2, 2, 0, 0))));
        Assert.Equal(-1, BoxSelection.SelectBest([double.NaN]));
    }

    [Fact]
    public void SelectBestTakesTheFirstOfEqualScoresAndOnlyPositiveOnes()
    {
        Assert.Equal(1, BoxSelection.SelectBest([0.5, 2.0, 1.0, 2.0]));
        Assert.Equal(-1, BoxSelection.SelectBest([0.0, -1.0]));
        Assert.Equal(-1, BoxSelection.SelectBest([]));
        Assert.Equal(2, BoxSelection.SelectBest([-3.0, 0.0, 1e-9]));
    }

    [Fact]
    public void RankingIsStableAndSkipsIneligibleProposals() =>
        Assert.Equal([3, 1, 4, 0], BoxSelection.RankEligible([1.0, 2.0, -1.0, 5.0, 2.0, 0.0]));

    [Fact]
    public void HitAtKLooksAtTheTopKOnly()
    {
        var target = Box.FromXywh(0, 0, 10, 10);
        Box[] proposals = [Box.FromXywh(50, 50, 10, 10), Box.FromXywh(0, 0, 10, 9), Box.FromXywh(1, 1, 10, 10)];
        double[] scores = [3, 2, 1];
        Assert.False(BoxSelection.HitAtK(proposals, scores, target, 1));
        Assert.True(BoxSelection.HitAtK(proposals, scores, target, 2));
        Assert.True(BoxSelection.HitAtK(proposals, scores, target, 10));
        Assert.Throws<GroundSharpException>(() => BoxSelection.HitAtK(proposals, scores, target, 0));
        Assert.Throws<GroundSharpException>(() => BoxSelection.HitAtK(proposals, [1.0], target, 1));
    }

    [Fact]
    public void RecallAtKAveragesOverQueries()
    {
        var target = Box.FromXywh(0, 0, 10, 10);
        Box[] proposals = [Box.FromXywh(50, 50, 10, 10), target];
        var queries = new[]
        {
            new RankedProposals(proposals, [2.0, 1.0], target), // right box ranked second
            new RankedProposals(proposals, [1.0, 2.0], target), // right box ranked first
        };
        var recall = BoxSelection.RecallAtK(queries, [1, 2]);
        Assert.Equal(0.5, recall[1]);
        Assert.Equal(1.0, recall[2]);
        Assert.Throws<GroundSharpException>(() => BoxSelection.RecallAtK([], [1]));
    }
}
