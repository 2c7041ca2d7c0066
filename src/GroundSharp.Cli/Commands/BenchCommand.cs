using System.CommandLine;
using GroundSharp.Cli.Bench;
using GroundSharp.Models;
using Spectre.Console;
using TorchSharp;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp bench</c>: the heavy paths, each against a baseline measured in the same run (docs/bench.md):
/// GradCAM throughput vs the authors' path, single-phrase latency vs one ViT forward, big photos vs 1 MP, checkpoint
/// load vs reading the bytes, training steps with and without AMC, bf16 vs fp32, two processes vs one.
/// </summary>
public static class BenchCommand
{
    public static readonly string[] Sections = { "heatmaps", "latency", "photo", "load", "training", "dtype", "processes" };

    public static Command Build()
    {
        var size = new Option<string>("--size") { Description = "model size: base (ALBEF-base, 256 px) or tiny", DefaultValueFactory = _ => "base" };
        var only = new Option<string>("--only") { Description = $"comma-separated sections to run ({string.Join(", ", Sections)}); default all", DefaultValueFactory = _ => string.Join(",", Sections) };
        var phraseCounts = new Option<string>("--phrases") { Description = "heatmaps: phrase counts per image, comma-separated", DefaultValueFactory = _ => "1,4,16" };
        var images = new Option<int>("--images") { Description = "heatmaps: images for the several-images row (4 phrases each)", DefaultValueFactory = _ => 4 };
        var naivePairs = new Option<int>("--naive-pairs") { Description = "heatmaps: (image, phrase) pairs timed on the naive path", DefaultValueFactory = _ => 3 };
        var repeats = new Option<int>("--repeats") { Description = "timed repeats per row (best is reported)", DefaultValueFactory = _ => 2 };
        var dtype = new Option<string>("--dtype") { Description = "fp32 (default: every section) or bf16 (the bf16 vs fp32 comparison only, as --only dtype)", DefaultValueFactory = _ => "fp32" };
        var workerSeconds = new Option<int>("--worker-seconds") { Description = "processes: seconds each process grounds for", DefaultValueFactory = _ => 20 };
        // What a worker process (started by the load and processes sections) does.
        var workerTask = new Option<string>("--worker-task") { Hidden = true, DefaultValueFactory = _ => "ground" };
        var workerFile = new Option<string?>("--worker-file") { Hidden = true };
        var trainSteps = new Option<int>("--train-steps") { Description = "training: timed steps per row (after two warm-up steps; the small model eight times as many)", DefaultValueFactory = _ => 3 };
        var cmd = new Command("bench", "Measure the heavy paths (GradCAM, latency, big photos, loading, training, bf16, processes), each against a baseline in the same run.")
        {
            size, only, phraseCounts, images, naivePairs, repeats, trainSteps, dtype, workerSeconds, workerTask, workerFile,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            string sections = r.GetValue(dtype) switch
            {
                "fp32" => r.GetValue(only)!,
                "bf16" => "dtype",
                var d => throw new GroundSharpException($"--dtype must be fp32 or bf16, not '{d}'"),
            };
            var worker = Enum.TryParse<BenchWorkers.Task>(r.GetValue(workerTask), ignoreCase: true, out var t) ? t
                : throw new GroundSharpException($"--worker-task: unknown task '{r.GetValue(workerTask)}'");
            return Execute(r.GetValue(size)!, sections, r.GetValue(phraseCounts)!, r.GetValue(images),
                r.GetValue(naivePairs), r.GetValue(repeats), r.GetValue(trainSteps), r.GetValue(workerSeconds), worker, r.GetValue(workerFile));
        }));
        return cmd;
    }

    internal static int Execute(string size, string onlyText, string phraseCountsText, int imageCount, int naivePairs, int repeats,
        int trainSteps = 3, int workerSeconds = 20, BenchWorkers.Task workerTask = BenchWorkers.Task.Ground, string? workerFile = null)
    {
        var counts = phraseCountsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out var n) && n > 0 ? n : throw new GroundSharpException($"--phrases: '{s}' is not a positive integer")).ToArray();
        if (imageCount < 1 || naivePairs < 1 || repeats < 1 || trainSteps < 1 || workerSeconds < 1)
            throw new GroundSharpException("--images, --naive-pairs, --repeats, --train-steps and --worker-seconds must be >= 1");
        var only = onlyText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        bool worker = only.SetEquals(new[] { "worker" }); // the hidden section the processes section starts
        foreach (var s in only)
            if (!Sections.Contains(s) && !worker) throw new GroundSharpException($"--only: unknown section '{s}' (sections: {string.Join(", ", Sections)})");
        TorchRuntime.EnsureLoaded();
        using var ctx = new BenchContext(size, repeats);
        if (worker)
        {
            BenchWorkers.Work(ctx, workerTask, workerSeconds, workerFile);
            return 0;
        }
        AnsiConsole.MarkupLine($"bench: ALBEF-{size} random weights, image {ctx.Config.ImageRes}px, {torch.get_num_threads()} threads, commit {BuildInfo.Commit}, {Environment.ProcessorCount} cores");
        using var model = new AlbefModel(ctx.Config, seed: 0);
        model.eval();
        var sixteen = HeatmapBench.Phrases.Take(16).ToList();
        if (only.Contains("heatmaps")) HeatmapBench.Run(ctx, model, counts, imageCount, naivePairs);
        if (only.Contains("latency")) LatencyBench.Run(ctx, model);
        if (only.Contains("photo")) PhotoBench.Run(ctx, model, sixteen);
        // After the in-process timings: its worker processes leave the machine busy for a while as they free their memory.
        if (only.Contains("load")) LoadBench.Run(ctx, model);
        if (only.Contains("training")) TrainingBench.Run(ctx, trainSteps);
        if (only.Contains("dtype")) DtypeBench.Run(ctx, model);
        if (only.Contains("processes")) ProcessBench.Run(ctx, workerSeconds);
        return 0;
    }
}
