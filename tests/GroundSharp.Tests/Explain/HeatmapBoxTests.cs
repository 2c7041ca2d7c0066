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

    /// <summary>The rule written pixel by pixel: a 4-connected flood fill from the peak over pixels >= fraction x peak.</summary>
    private static Box PixelFloodFill(float[] map, int w, int h, (int X, int Y) peak, double fraction)
    {
        float p = map[peak.Y * w + peak.X];
        float threshold = p > 0 ? (float)(p * fraction) : p;
        var seen = new bool[map.Length];
        var stack = new Stack<int>();
        stack.Push(peak.Y * w + peak.X);
        seen[peak.Y * w + peak.X] = true;
        int x1 = peak.X, x2 = peak.X, y1 = peak.Y, y2 = peak.Y;
        while (stack.Count > 0)
        {
            int i = stack.Pop(), x = i % w, y = i / w;
            x1 = Math.Min(x1, x); x2 = Math.Max(x2, x); y1 = Math.Min(y1, y); y2 = Math.Max(y2, y);
            foreach (var (nx, ny) in new[] { (x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1) })
            {
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                int j = ny * w + nx;
                if (seen[j] || map[j] < threshold) continue;
                seen[j] = true;
                stack.Push(j);
            }
        }
        return new Box(x1, y1, x2 + 1, y2 + 1);
    }

    [Fact]
    public void RunBasedRegionEqualsThePixelFloodFill_OnRandomMapsWithManyComponents()
    {
        // Spiky noise (many small components, diagonal-only contacts) and smooth blobs (few large ones), several fractions.
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int w = rng.Next(1, 40), h = rng.Next(1, 30);
            var m = new float[w * h];
            bool smooth = trial % 2 == 0;
            var centres = Enumerable.Range(0, 4).Select(_ => (X: rng.NextDouble() * w, Y: rng.NextDouble() * h)).ToArray();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    m[y * w + x] = smooth
                        ? (float)centres.Sum(c => Math.Exp(-((x - c.X) * (x - c.X) + (y - c.Y) * (y - c.Y)) / 20.0))
                        : rng.Next(4) / 3f;
            int peakIndex = Array.IndexOf(m, m.Max());
            var peak = (peakIndex % w, peakIndex / w);
            double fraction = new[] { 0.1, 0.5, 0.9, 1.0 }[trial % 4];
            Assert.Equal(PixelFloodFill(m, w, h, peak, fraction), HeatmapBox.FromPeakRegion(m, w, h, peak, fraction));
        }
    }
}
