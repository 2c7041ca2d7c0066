using GroundSharp.Eval;

namespace GroundSharp.Explain;

/// <summary>
/// A box derived from a heatmap: the bounding box of the 4-connected region of pixels whose value is at
/// least <c>fraction × peak</c> and that contains the peak point. x2/y2 are exclusive (one past the last pixel).
/// </summary>
public static class HeatmapBox
{
    public const double DefaultFraction = 0.5;

    /// <summary>The same for a (height, width) float32 CPU map tensor, read in place (no managed copy of a large map).</summary>
    public static Box FromPeakRegion(TorchSharp.torch.Tensor heatmap, (int X, int Y) peak, double fraction = DefaultFraction)
    {
        if (heatmap.dim() != 2 || heatmap.dtype != TorchSharp.torch.ScalarType.Float32 || heatmap.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException("the heatmap must be a 2-D float32 CPU tensor");
        using var contiguous = heatmap.contiguous();
        int height = (int)heatmap.shape[0], width = (int)heatmap.shape[1];
        return FromPeakRegion(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(contiguous.bytes), width, height, peak, fraction);
    }

    /// <param name="heatmap">row-major (height × width) values.</param>
    /// <param name="peak">the peak pixel (the pointing-game point).</param>
    /// <remarks>
    /// The region is explored as horizontal runs of pixels at or above the threshold, not pixel by pixel: two runs in
    /// adjacent rows are 4-connected exactly when they share a column, so the component is the same, and a smooth map
    /// has a few runs per row — a 12-megapixel map costs one threshold scan of the rows the region reaches.
    /// </remarks>
    public static Box FromPeakRegion(ReadOnlySpan<float> heatmap, int width, int height, (int X, int Y) peak, double fraction = DefaultFraction)
    {
        if (heatmap.Length != (long)width * height) throw new ArgumentException("heatmap size does not match width × height");
        if (fraction is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fraction), "fraction must be in (0, 1]");
        float peakValue = heatmap[peak.Y * width + peak.X];
        // Scale-free threshold also for non-positive peaks (an all-zero map selects the whole image).
        float threshold = peakValue > 0 ? (float)(peakValue * fraction) : peakValue;

        var runs = new List<(int Start, int End)>?[height]; // per row, found on first visit; End exclusive
        var visited = new bool[height][];
        List<(int Start, int End)> RunsOf(int y, ReadOnlySpan<float> map)
        {
            if (runs[y] is { } known) return known;
            var found = new List<(int, int)>();
            var row = map.Slice(y * width, width);
            for (int x = 0; x < width;)
            {
                while (x < width && !(row[x] >= threshold)) x++;
                int start = x;
                while (x < width && row[x] >= threshold) x++;
                if (x > start) found.Add((start, x));
            }
            runs[y] = found;
            visited[y] = new bool[found.Count];
            return found;
        }

        var pending = new Stack<(int Y, int Index)>();
        var first = RunsOf(peak.Y, heatmap);
        int firstIndex = first.FindIndex(r => r.Start <= peak.X && peak.X < r.End);
        if (firstIndex < 0) return new Box(peak.X, peak.Y, peak.X + 1, peak.Y + 1); // a NaN peak: only the point itself
        visited[peak.Y][firstIndex] = true;
        pending.Push((peak.Y, firstIndex));
        int minX = peak.X, maxX = peak.X, minY = peak.Y, maxY = peak.Y;
        while (pending.Count > 0)
        {
            var (y, i) = pending.Pop();
            var (start, end) = runs[y]![i];
            minX = Math.Min(minX, start); maxX = Math.Max(maxX, end - 1);
            minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
            for (int ny = y - 1; ny <= y + 1; ny += 2)
            {
                if (ny < 0 || ny >= height) continue;
                var neighbours = RunsOf(ny, heatmap);
                var seen = visited[ny];
                for (int j = 0; j < neighbours.Count; j++)
                {
                    if (seen[j] || neighbours[j].Start >= end || neighbours[j].End <= start) continue;
                    seen[j] = true;
                    pending.Push((ny, j));
                }
            }
        }
        return new Box(minX, minY, maxX + 1, maxY + 1);
    }
}
