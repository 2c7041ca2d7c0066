using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// Workloads run in fresh processes of this executable (its hidden <c>bench --only worker</c>): what a process does
/// first or beside another process cannot be measured inside this one. A worker prints one "worker result: X" line.
/// </summary>
internal static class BenchWorkers
{
    private const string ResultPrefix = "worker result: ";

    public enum Task { Ground, Read, Load }

    /// <summary>Starts a worker; <paramref name="threads"/> null = the worker picks its threads as any process would.</summary>
    public static Process Start(BenchContext ctx, Task task, int? threads, int seconds = 1, string? file = null)
    {
        // The apphost runs itself; under `dotnet groundsharp.dll` the host is dotnet and the first argument is the dll.
        string host = Environment.ProcessPath ?? throw new GroundSharpException("cannot find this executable's path to start bench workers");
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(typeof(BenchWorkers).Assembly.Location);
        foreach (var a in new[] { "bench", "--only", "worker", "--worker-task", task.ToString().ToLowerInvariant(), "--size", ctx.Size,
                     "--worker-seconds", seconds.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        if (file is not null) { info.ArgumentList.Add("--worker-file"); info.ArgumentList.Add(file); }
        if (threads is { } n) { info.ArgumentList.Add("--threads"); info.ArgumentList.Add(n.ToString(CultureInfo.InvariantCulture)); }
        info.Environment.Remove(TorchThreads.EnvironmentVariable);
        info.Environment.Remove("OMP_NUM_THREADS");
        return Process.Start(info) ?? throw new GroundSharpException("could not start a bench worker process");
    }

    /// <summary>Waits for a worker and returns its result.</summary>
    public static double Result(Process p)
    {
        using (p)
        {
            string output = p.StandardOutput.ReadToEnd();
            string errors = p.StandardError.ReadToEnd();
            p.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
            if (p.ExitCode != 0 || line is null)
                throw new GroundSharpException($"a bench worker process failed (exit code {p.ExitCode}): {errors.Trim()}");
            return double.Parse(line[ResultPrefix.Length..], CultureInfo.InvariantCulture);
        }
    }

    public static double Run(BenchContext ctx, Task task, int? threads, int seconds = 1, string? file = null) =>
        Result(Start(ctx, task, threads, seconds, file));

    /// <summary>The worker side: runs the task and prints its result.</summary>
    public static void Work(BenchContext ctx, Task task, int seconds, string? file)
    {
        double result = task switch
        {
            Task.Ground => GroundRate(ctx, seconds),
            Task.Read => Seconds(() =>
            {
                // The file's bytes into one new tensor: memory from libtorch's allocator, page faults included, as a load's.
                using var f = new FileStream(Required(file), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                using var buffer = TorchSharp.torch.empty(f.Length, TorchSharp.torch.ScalarType.Byte);
                f.ReadExactly(buffer.bytes);
            }),
            Task.Load => Seconds(() => AlbefLoader.Load(Required(file)).Model.Dispose()),
            _ => throw new ArgumentOutOfRangeException(nameof(task)),
        };
        Console.WriteLine(ResultPrefix + result.ToString("R", CultureInfo.InvariantCulture));
    }

    private static string Required(string? file) => file ?? throw new GroundSharpException("bench worker: --worker-file is required");

    private static double Seconds(Action run)
    {
        var sw = Stopwatch.StartNew();
        run();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Heatmaps per second grounding 16 phrases on one photo for <paramref name="seconds"/>, after a warm-up.</summary>
    private static double GroundRate(BenchContext ctx, int seconds)
    {
        using var model = new AlbefModel(ctx.Config, seed: 0);
        model.eval();
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        var photo = Measure.PhotoLike(640, 480, seed: 3);
        var phrases = HeatmapBench.Phrases;
        grounder.Ground(photo, phrases);
        int heatmaps = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            grounder.Ground(photo, phrases);
            heatmaps += phrases.Length;
        }
        return heatmaps / sw.Elapsed.TotalSeconds;
    }
}
