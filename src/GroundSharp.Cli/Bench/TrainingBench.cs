using GroundSharp.Data.Synthetic;
using GroundSharp.Experiments;
using GroundSharp.Models;
using GroundSharp.Training;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// Training throughput (samples/s) of the real <see cref="Trainer"/> on the synthetic box split: ALBEF's objectives
/// (ITC + ITM + MLM) against the same with AMC, whose step differentiates through the GradCAM (second order).
/// </summary>
internal static class TrainingBench
{
    public const double Goal = 1.5;

    public static void Run(BenchContext ctx, int steps)
    {
        BenchContext.Heading("training throughput: ALBEF objectives vs + AMC (second order through the GradCAM)");
        string data = Path.Combine(ctx.Scratch, "synth");
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(seed: 1) with { Boxes = 64 }, data);
        var models = new List<(string Name, AlbefConfig Config, int Batch)> { ($"ALBEF-{ctx.Size}, batch 8", ctx.Config, 8) };
        models.Add(("experiment amc's small model, batch 24", AmcExperimentOptions.SmallModel, 24));
        var table = new Table().AddColumns("model", "ITC+ITM+MLM samples/s", "+ AMC samples/s", "AMC step / plain step");
        foreach (var (name, config, batch) in models)
        {
            double plain = SamplesPerSecond(ctx, data, config, batch, steps, amc: false);
            double amc = SamplesPerSecond(ctx, data, config, batch, steps, amc: true);
            table.AddRow(name, Measure.F(plain, 1), Measure.F(amc, 1), Measure.Ratio(plain / amc, Goal));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"median of {steps} steps after one warm-up step; the full training step (data pipeline, forward, backward, AdamW); every item of the box split has a box, so AMC applies to all");
    }

    private static double SamplesPerSecond(BenchContext ctx, string data, AlbefConfig model, int batch, int steps, bool amc)
    {
        var config = new TrainConfig
        {
            Model = model,
            ModelSource = "bench",
            DataFiles = new[] { Path.Combine(data, SynthSplits.Boxes + ".jsonl") },
            BatchSize = batch,
            MaxSteps = steps + 1,
            Epochs = 1000,
            Lr = 1e-4,
            WarmupSteps = 1,
            Seed = 1,
            OutputDir = Path.Combine(ctx.Scratch, $"train-{model.VisionWidth}-{amc}"),
            Objectives = new ObjectiveSwitches { Amc = amc },
        }.Validate("bench");
        var reporter = new Rates();
        new Trainer(config, reporter).Run(new TrainStart { SaveCheckpoints = false });
        var timed = reporter.Values.Skip(1).OrderBy(v => v).ToList();
        return timed[timed.Count / 2];
    }

    private sealed class Rates : ITrainingReporter
    {
        public List<double> Values { get; } = new();
        public void Started(int startStep, int totalSteps, string message) { }
        public void Stepped(StepMetrics metrics) => Values.Add(metrics.SamplesPerSecond);
        public void Message(string message) { }
    }
}
