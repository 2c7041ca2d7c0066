using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// Two GroundSharp processes on one machine (docs/threads.md): given disjoint thread shares (half the cores each, the
/// documented way), their throughput side by side against the sum of each alone; and, for contrast, two processes that
/// each take every core (the default when nothing is set), against one alone. Each process is this executable's hidden
/// <c>bench --only worker</c> (<see cref="BenchWorkers"/>).
/// </summary>
internal static class ProcessBench
{
    public const double Goal = 0.8;

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
    private static List<double> Workers(BenchContext ctx, int count, int seconds, int? threads) =>
        Enumerable.Range(0, count).Select(_ => BenchWorkers.Start(ctx, BenchWorkers.Task.Ground, threads, seconds)).ToList()
            .Select(BenchWorkers.Result).ToList();
}
