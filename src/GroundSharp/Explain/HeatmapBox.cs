using GroundSharp.Eval;

namespace GroundSharp.Explain;

/// <summary>
/// A box derived from a heatmap: the bounding box of the 4-connected region of pixels whose value is at
/// least <c>fraction × peak</c> and that contains the peak point. x2/y2 are exclusive (one past the last pixel).
/// </summary>
public static class HeatmapBox
{
    public const double DefaultFraction = 0.5;

    /// <param name="heatmap">row-major (height × width) values.</param>
    /// <param name="peak">the peak pixel (the pointing-game point).</param>
    public static Box FromPeakRegion(ReadOnlySpan<float> heatmap, int width, int height, (int X, int Y) peak, double fraction = DefaultFraction)
    {
        if (heatmap.Length != (long)width * height) throw new ArgumentException("heatmap size does not match width × height");
        if (fraction is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fraction), "fraction must be in (0, 1]");
        float peakValue = heatmap[peak.Y * width + peak.X];
        // Scale-free threshold also for non-positive peaks (an all-zero map selects the whole image).
        float threshold = peakValue > 0 ? (float)(peakValue * fraction) : peakValue;

        var visited = new bool[heatmap.Length];
        var stack = new Stack<int>();
        int start = peak.Y * width + peak.X;
        stack.Push(start);
        visited[start] = true;
        int minX = peak.X, maxX = peak.X, minY = peak.Y, maxY = peak.Y;
        while (stack.Count > 0)
        {
            int i = stack.Pop();
            int x = i % width, y = i / width;
            if (x < minX) minX = x; if (x > maxX) maxX = x;
            if (y < minY) minY = y; if (y > maxY) maxY = y;
            if (x > 0) Visit(i - 1, heatmap);
            if (x < width - 1) Visit(i + 1, heatmap);
            if (y > 0) Visit(i - width, heatmap);
            if (y < height - 1) Visit(i + width, heatmap);
        }
        return new Box(minX, minY, maxX + 1, maxY + 1);

        void Visit(int j, ReadOnlySpan<float> map)
        {
            if (visited[j] || map[j] < threshold) return;
            visited[j] = true;
            stack.Push(j);
        }
    }
}
