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
    /// <summary>Untimed first steps: they allocate the optimizer's state and grow the allocator's pools.</summary>
    private const int WarmUpSteps = 2;

    public static void Run(BenchContext ctx, int steps)
    {
        BenchContext.Heading("training throughput: ALBEF objectives vs + AMC (second order through the GradCAM)");
        string data = Path.Combine(ctx.Scratch, "synth");
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(seed: 1) with { Boxes = 64 }, data);
        // The small model's steps take a third of a second: eight times the steps for a steady median.
        var models = new List<(string Name, AlbefConfig Config, int Batch, int Steps)>
        {
            ($"ALBEF-{ctx.Size}, batch 8", ctx.Config, 8, steps),
            ("experiment amc's small model, batch 24", AmcExperimentOptions.SmallModel, 24, 8 * steps),
        };
        var table = new Table().AddColumns("model", "timed steps", "ITC+ITM+MLM samples/s", "+ AMC samples/s", "AMC step / plain step");
        foreach (var (name, config, batch, n) in models)
        {
            double plain = SamplesPerSecond(ctx, data, config, batch, n, amc: false);
            double amc = SamplesPerSecond(ctx, data, config, batch, n, amc: true);
            table.AddRow(name, n.ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"{Measure.F(plain)} ({Measure.F(batch / plain, 2)} s/step)", $"{Measure.F(amc)} ({Measure.F(batch / amc, 2)} s/step)", Measure.Ratio(plain / amc, Goal));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"median of the timed steps after {WarmUpSteps} warm-up steps; the full training step (data pipeline, forward, backward, AdamW); every item of the box split has a box, so AMC applies to all");
    }

    private static double SamplesPerSecond(BenchContext ctx, string data, AlbefConfig model, int batch, int steps, bool amc)
    {
        var config = new TrainConfig
        {
            Model = model,
            ModelSource = "bench",
            DataFiles = new[] { Path.Combine(data, SynthSplits.Boxes + ".jsonl") },
            BatchSize = batch,
            MaxSteps = steps + WarmUpSteps,
            Epochs = 1000,
            Lr = 1e-4,
            WarmupSteps = 1,
            Seed = 1,
            OutputDir = Path.Combine(ctx.Scratch, $"train-{model.VisionWidth}-{amc}"),
            Objectives = new ObjectiveSwitches { Amc = amc },
        }.Validate("bench");
        var reporter = new Rates();
        new Trainer(config, reporter).Run(new TrainStart { SaveCheckpoints = false });
        if (amc && reporter.AmcSamples == 0) throw new InvalidOperationException("bench: the AMC run saw no item with a box");
        var timed = reporter.Values.Skip(WarmUpSteps).OrderBy(v => v).ToList();
        return timed[timed.Count / 2];
    }

    private sealed class Rates : ITrainingReporter
    {
        public List<double> Values { get; } = new();
        public void Started(int startStep, int totalSteps, string message) { }
        public int AmcSamples { get; private set; }
        public void Stepped(StepMetrics metrics) { Values.Add(metrics.SamplesPerSecond); AmcSamples += metrics.AmcSamples; }
        public void Message(string message) { }
    }
}
