using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// Two GroundSharp processes on one machine (docs/threads.md): given disjoint thread shares (half the cores each, the
/// documented way), their throughput side by side against the sum of each alone; and, for contrast, two processes that
/// each take every core (the default when nothing is set), against one alone. Each process is this executable's hidden
/// <c>bench --only worker</c>.
/// </summary>
internal static class ProcessBench
{
    public const double Goal = 0.8;
    private const string RatePrefix = "worker rate: ";

    public static void Run(BenchContext ctx, int seconds)
    {
        int cores = Environment.ProcessorCount, share = Math.Max(1, cores / 2);
        BenchContext.Heading($"two processes side by side vs alone: each grounds 16 phrases for {seconds} s ({cores} cores)");
        var table = new Table().AddColumns("setting", "alone, heatmaps/s", "side by side, heatmaps/s", "side by side / (2 x alone)");
        foreach (var (name, threads, goal) in new[] { ($"each --threads {share} (docs/threads.md)", (int?)share, true), ($"each takes all {cores} cores (no setting)", null, false) })
        {
            double alone = Workers(ctx, 1, seconds, threads).Single();
            var pair = Workers(ctx, 2, seconds, threads);
            double kept = pair.Sum() / (2 * alone);
            table.AddRow(name, Measure.F(alone), $"{string.Join(" + ", pair.Select(r => Measure.F(r)))} = {Measure.F(pair.Sum())}",
                goal ? $"{kept:P0} (goal >= {Goal:P0}: {(kept >= Goal ? "met" : "NOT met")})" : $"{kept:P0}");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("two processes that each take every core spin their OpenMP threads against each other: give each its share (--threads, GROUNDSHARP_THREADS or taskset)");
    }

    /// <summary>Starts <paramref name="count"/> workers at once and returns each one's heatmaps per second.</summary>
    private static List<double> Workers(BenchContext ctx, int count, int seconds, int? threads)
    {
        var processes = Enumerable.Range(0, count).Select(_ => Start(ctx, seconds, threads)).ToList();
        var rates = new List<double>();
        foreach (var p in processes)
        {
            string output = p.StandardOutput.ReadToEnd();
            string errors = p.StandardError.ReadToEnd();
            p.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(RatePrefix, StringComparison.Ordinal));
            if (p.ExitCode != 0 || line is null)
                throw new GroundSharpException($"a bench worker process failed (exit code {p.ExitCode}): {errors.Trim()}");
            rates.Add(double.Parse(line[RatePrefix.Length..], CultureInfo.InvariantCulture));
            p.Dispose();
        }
        return rates;
    }

    private static Process Start(BenchContext ctx, int seconds, int? threads)
    {
        // The apphost runs itself; under `dotnet groundsharp.dll` the host is dotnet and the first argument is the dll.
        string host = Environment.ProcessPath ?? throw new GroundSharpException("cannot find this executable's path to start bench workers");
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(typeof(ProcessBench).Assembly.Location);
        foreach (var a in new[] { "bench", "--only", "worker", "--size", ctx.Size, "--worker-seconds", seconds.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        if (threads is { } n) { info.ArgumentList.Add("--threads"); info.ArgumentList.Add(n.ToString(CultureInfo.InvariantCulture)); }
        // Otherwise the workers choose their threads as any process would: nothing inherited from this one's setting.
        info.Environment.Remove(TorchThreads.EnvironmentVariable);
        info.Environment.Remove("OMP_NUM_THREADS");
        return Process.Start(info) ?? throw new GroundSharpException("could not start a bench worker process");
    }

    /// <summary>The worker: ground 16 phrases on one photo repeatedly for <paramref name="seconds"/> after a warm-up; print the rate.</summary>
    public static void Worker(AlbefModel model, IReadOnlyList<string> phrases, int seconds)
    {
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        var photo = Measure.PhotoLike(640, 480, seed: 3);
        grounder.Ground(photo, phrases);
        int heatmaps = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            grounder.Ground(photo, phrases);
            heatmaps += phrases.Count;
        }
        Console.WriteLine(RatePrefix + (heatmaps / sw.Elapsed.TotalSeconds).ToString("R", CultureInfo.InvariantCulture));
    }
}
