using GroundSharp.Eval;
using GroundSharp.Explain;
using Xunit;

namespace GroundSharp.Tests.Explain;

public class HeatmapBoxTests
{
    private static float[] Map(int w, int h, params (int X, int Y, float V)[] cells)
    {
        var m = new float[w * h];
        foreach (var (x, y, v) in cells) m[y * w + x] = v;
        return m;
    }

    [Fact]
    public void BoxIsTheConnectedRegionAboveHalfThePeakAroundThePoint()
    {
        // A blob at (2..4, 1..2) with the peak, and a separate strong blob at (8, 5) that must not be included.
        var m = Map(10, 7, (2, 1, 0.6f), (3, 1, 1.0f), (4, 1, 0.5f), (3, 2, 0.7f), (4, 2, 0.49f), (8, 5, 0.9f));
        var box = HeatmapBox.FromPeakRegion(m, 10, 7, (3, 1));
        Assert.Equal(new Box(2, 1, 5, 3), box); // x2/y2 exclusive; (4,2) is below 0.5 but (4,1) is at it
    }

    [Fact]
    public void DiagonalNeighboursAreNotConnected()
    {
        var m = Map(4, 4, (1, 1, 1f), (2, 2, 0.9f));
        Assert.Equal(new Box(1, 1, 2, 2), HeatmapBox.FromPeakRegion(m, 4, 4, (1, 1)));
    }

    [Fact]
    public void FractionControlsTheRegion()
    {
        var m = Map(5, 1, (0, 0, 0.2f), (1, 0, 0.4f), (2, 0, 1f), (3, 0, 0.4f), (4, 0, 0.2f));
        Assert.Equal(new Box(2, 0, 3, 1), HeatmapBox.FromPeakRegion(m, 5, 1, (2, 0), 0.5));
        Assert.Equal(new Box(1, 0, 4, 1), HeatmapBox.FromPeakRegion(m, 5, 1, (2, 0), 0.4));
        Assert.Equal(new Box(0, 0, 5, 1), HeatmapBox.FromPeakRegion(m, 5, 1, (2, 0), 0.1));
    }

    [Fact]
    public void FlatZeroMapSelectsTheWholeImage()
    {
        Assert.Equal(new Box(0, 0, 6, 3), HeatmapBox.FromPeakRegion(new float[18], 6, 3, (0, 0)));
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => HeatmapBox.FromPeakRegion(new float[5], 2, 2, (0, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => HeatmapBox.FromPeakRegion(new float[4], 2, 2, (0, 0), 0));
    }
}
