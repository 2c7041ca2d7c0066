using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GroundSharp.Experiments;
using GroundSharp.Rec;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp train-detector --data DIR --out detector.safetensors</c>: trains the small YOLOv3 of the REC
/// method on a synthetic benchmark's box split, with the objects' shapes as the only classes.
/// </summary>
public static class TrainDetectorCommand
{
    public static Command Build()
    {
        var data = new Option<string>("--data") { Description = "synthetic benchmark folder (written by 'groundsharp synth')", Required = true };
        var output = new Option<string>("--out") { Description = "detector checkpoint to write (.safetensors)", Required = true };
        var steps = new Option<int>("--steps") { Description = "optimiser steps", DefaultValueFactory = _ => 1000 };
        var batchSize = new Option<int>("--batch-size") { Description = "images per step", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => 1e-3 };
        var seed = new Option<int>("--seed") { Description = "seed of the initialisation and the batch order", DefaultValueFactory = _ => 1 };
        var inputSize = new Option<int>("--input-size") { Description = "square network input in pixels (a multiple of 32)", DefaultValueFactory = _ => 256 };
        var size = new Option<string>("--size") { Description = "preset: tiny (tests), small (CPU experiments), full (DarkNet-53)", DefaultValueFactory = _ => "small" };
        var depth = new Option<string?>("--depth") { Description = "residual blocks per DarkNet stage, five numbers (e.g. 1,1,2,2,1); overrides --size" };
        var width = new Option<double?>("--width") { Description = "channel multiplier (e.g. 0.25); overrides --size" };
        var cmd = new Command("train-detector", "Train the REC method's YOLOv3 on a synthetic benchmark's box split (classes = shapes).")
        {
            data, output, steps, batchSize, lr, seed, inputSize, size, depth, width,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(steps), r.GetValue(batchSize), r.GetValue(lr),
            r.GetValue(seed), r.GetValue(inputSize), r.GetValue(size)!, r.GetValue(depth), r.GetValue(width))));
        return cmd;
    }

    public static int Execute(string data, string output, int steps, int batchSize, double lr, int seed, int inputSize, string size, string? depth, double? width)
    {
        if (steps < 1) throw new GroundSharpException($"--steps must be at least 1 (got {steps})");
        if (batchSize < 1) throw new GroundSharpException($"--batch-size must be at least 1 (got {batchSize})");
        if (!(lr > 0) || !double.IsFinite(lr)) throw new GroundSharpException($"--lr must be positive (got {lr.ToString(CultureInfo.InvariantCulture)})");
        if (!Directory.Exists(data)) throw new GroundSharpException($"--data not found: {data}");
        var config = SynthDetector.Config(size, inputSize, depth is null ? null : ParseDepths(depth), width);
        var clock = Stopwatch.StartNew();
        var options = new DetectorTrainingOptions { Epochs = int.MaxValue, MaxSteps = steps, BatchSize = batchSize, LearningRate = lr, Seed = seed };
        // Seeded from the start, so a redo after TorchSharp's transient Scalar error (docs/torchsharp-native.md) trains the same model.
        using var model = TransientNativeError.Retry("the detector's training", () =>
        {
            TorchSharp.torch.random.manual_seed(seed);
            return SynthDetector.Train(data, config, options, Console.Error.WriteLine);
        }, Console.Error.WriteLine);
        var dir = Path.GetDirectoryName(Path.GetFullPath(output));
        if (dir is not null) Directory.CreateDirectory(dir);
        model.Save(output);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {output} ({steps} steps in {clock.Elapsed.TotalSeconds:F1} s)"));
        return 0;
    }

    public static int[] ParseDepths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 5 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            return parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        throw new GroundSharpException($"--depth '{text}': give five non-negative block counts separated by commas, e.g. 1,1,2,2,1");
    }
}
