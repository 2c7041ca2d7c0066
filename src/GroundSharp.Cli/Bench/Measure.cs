using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data;

namespace GroundSharp.Cli.Bench;

/// <summary>Timing and memory readings shared by the bench sections.</summary>
internal static class Measure
{
    /// <summary>Seconds of the fastest of <paramref name="repeats"/> runs, after one untimed warm-up run.</summary>
    public static double BestOf(int repeats, Action run, bool warmUp = true)
    {
        if (warmUp) run();
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            run();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM).</summary>
    public static void ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public static long PeakRssBytes() => ReadStatus("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    public static long RssBytes() => ReadStatus("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    private static long? ReadStatus(string key)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return null;
    }

    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("F0", CultureInfo.InvariantCulture) + " MiB";

    public static string Ms(double seconds) => (seconds * 1000).ToString("F0", CultureInfo.InvariantCulture) + " ms";

    public static string F(double value, int digits = 2) => value.ToString("F" + digits, CultureInfo.InvariantCulture);

    /// <summary>A ratio against its goal: "1.12x (goal <= 1.25x: met)".</summary>
    public static string Ratio(double ratio, double goal) =>
        $"{F(ratio)}x (goal <= {F(goal)}x: {(ratio <= goal ? "met" : "NOT met")})";

    /// <summary>A photo-like test image: smooth colour gradients with a few flat discs (compresses like a photo, unlike noise).</summary>
    public static RgbImage PhotoLike(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[(long)width * height * 3 <= int.MaxValue ? width * height * 3 : throw new ArgumentException("image too large")];
        var discs = Enumerable.Range(0, 6).Select(_ => (X: rng.NextDouble() * width, Y: rng.NextDouble() * height,
            R: (0.05 + 0.15 * rng.NextDouble()) * Math.Min(width, height), C: (rng.Next(256), rng.Next(256), rng.Next(256)))).ToArray();
        Parallel.For(0, height, y =>
        {
            for (int x = 0; x < width; x++)
            {
                int i = 3 * (y * width + x);
                byte r = (byte)(255 * x / width), g = (byte)(255 * y / height), b = (byte)(128 + 64 * Math.Sin(x * 0.01 + y * 0.013));
                foreach (var d in discs)
                    if ((x - d.X) * (x - d.X) + (y - d.Y) * (y - d.Y) < d.R * d.R) (r, g, b) = ((byte)d.C.Item1, (byte)d.C.Item2, (byte)d.C.Item3);
                px[i] = r; px[i + 1] = g; px[i + 2] = b;
            }
        });
        return new RgbImage(width, height, px);
    }
}
