using System.CommandLine;
using GroundSharp.Training;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp train</c>: ALBEF objectives + AMC on JSON-lines triplets (docs/training.md).</summary>
public static class TrainCommand
{
    public static Command Build()
    {
        var config = new Option<string>("--config") { Description = "training config JSON (docs/training.md)", Required = true };
        var init = new Option<string?>("--init") { Description = "initialise from a published ALBEF/AMC checkpoint (.pth or .safetensors), momentum copies and queues included when present" };
        var resume = new Option<string?>("--resume") { Description = "continue a run exactly: a checkpoint folder, or a run's output folder (its latest checkpoint)" };
        var output = new Option<string?>("--out") { Description = "output folder (overrides output_dir)" };
        var maxSteps = new Option<int?>("--max-steps") { Description = "schedule length in steps (overrides max_steps)" };
        var stopAfter = new Option<int?>("--stop-after") { Description = "stop after this step with a checkpoint, keeping the schedule (resume later with --resume)" };
        var seed = new Option<long?>("--seed") { Description = "random seed (overrides seed)" };
        var device = new Option<string?>("--device") { Description = "cpu or cuda (overrides device)" };
        var exportPth = new Option<bool>("--export-pth") { Description = "also write the final weights as a PyTorch checkpoint {'model': state_dict} (model.pth)" };
        var cmd = new Command("train", "Train ALBEF with the ALBEF objectives and the AMC loss; writes checkpoints and metrics.jsonl.")
        {
            config, init, resume, output, maxSteps, stopAfter, seed, device, exportPth,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            var c = TrainConfig.Load(r.GetValue(config)!);
            if (r.GetValue(output) is { } o) c = c with { OutputDir = Path.GetFullPath(o) };
            // A resumed run goes on in its own folder, whatever output_dir the config names.
            else if (r.GetValue(resume) is { } from) c = c with { OutputDir = TrainingCheckpoint.RunFolder(from) };
            if (r.GetValue(maxSteps) is { } m) c = c with { MaxSteps = m };
            if (r.GetValue(seed) is { } s) c = c with { Seed = s };
            if (r.GetValue(device) is { } d) c = c with { Device = d };
            if (r.GetValue(exportPth)) c = c with { ExportPth = true };
            return Execute(c, new TrainStart { InitCheckpoint = ModelsCommand.ResolveArgument(r.GetValue(init)), ResumeFrom = r.GetValue(resume), StopAfterStep = r.GetValue(stopAfter) });
        }));
        return cmd;
    }

    public static int Execute(TrainConfig config, TrainStart start)
    {
        if (start.InitCheckpoint is not null && start.ResumeFrom is not null)
            throw new GroundSharpException("give either --init or --resume, not both");
        TrainResult result;
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            result = new Trainer(config, new PlainReporter()).Run(start);
        }
        else
        {
            result = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var reporter = new ProgressReporter(ctx);
                    result = new Trainer(config, reporter).Run(start);
                });
        }
        Console.WriteLine($"trained to step {result.LastStep} of {result.TotalSteps}; last checkpoint: {result.LastCheckpoint}; metrics: {Path.Combine(result.OutputDir, "metrics.jsonl")}");
        return 0;
    }

    private static string Losses(StepMetrics m) =>
        string.Join(" ", m.Losses.Select(kv => $"{kv.Key} {kv.Value:F4}")) + $" | lr {m.Lr:E2} | {m.SamplesPerSecond:F1} samples/s";

    /// <summary>One line a step, for logs and redirected output.</summary>
    private sealed class PlainReporter : ITrainingReporter
    {
        public void Started(int startStep, int totalSteps, string message) => Console.WriteLine($"{message}; steps {startStep + 1}..{totalSteps}");
        public void Stepped(StepMetrics m) => Console.WriteLine($"step {m.Step}/{m.TotalSteps} {Losses(m)}");
        public void Message(string message) => Console.WriteLine(message);
    }

    /// <summary>A Spectre.Console progress bar whose description shows the latest losses and throughput.</summary>
    private sealed class ProgressReporter(ProgressContext context) : ITrainingReporter
    {
        private ProgressTask? _task;

        public void Started(int startStep, int totalSteps, string message)
        {
            AnsiConsole.MarkupLine(CliRunner.Esc(message));
            _task = context.AddTask("training", maxValue: totalSteps);
            _task.Value = startStep;
        }

        public void Stepped(StepMetrics m)
        {
            if (_task is null) return;
            _task.Value = m.Step;
            _task.Description = CliRunner.Esc($"step {m.Step} {Losses(m)}");
        }

        public void Message(string message) => AnsiConsole.MarkupLine(CliRunner.Esc(message));
    }
}
