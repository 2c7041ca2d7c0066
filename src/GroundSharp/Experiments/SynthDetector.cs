using System.Diagnostics;
using GroundSharp.Data.Synthetic;
using GroundSharp.Rec;

namespace GroundSharp.Experiments;

/// <summary>
/// The small YOLOv3 of the synthetic benchmark: its size presets, its labels (every object of the box split with
/// its full box; class = shape only, so colour and position must come from the text) and its training.
/// </summary>
public static class SynthDetector
{
    public static IReadOnlyList<string> Sizes { get; } = ["tiny", "small", "full"];

    /// <summary>
    /// A detector for the benchmark's eight shapes. Presets: tiny (1,1,1,1,1 blocks, 1/16 width; tests), small
    /// (1,1,2,2,1 blocks, 1/4 width; CPU experiments), full (DarkNet-53: 1,2,8,8,4 blocks, full width).
    /// <paramref name="depths"/> and <paramref name="width"/> override the preset.
    /// </summary>
    public static DetectorConfig Config(string size = "small", int inputSize = 256, int[]? depths = null, double? width = null)
    {
        var (presetDepths, presetWidth) = size switch
        {
            "tiny" => (new[] { 1, 1, 1, 1, 1 }, 1.0 / 16),
            "small" => (new[] { 1, 1, 2, 2, 1 }, 0.25),
            "full" => (new[] { 1, 2, 8, 8, 4 }, 1.0),
            _ => throw new GroundSharpException($"detector size '{size}' is unknown ({string.Join(", ", Sizes)})"),
        };
        return new DetectorConfig
        {
            StageDepths = depths ?? presetDepths,
            WidthMultiple = width ?? presetWidth,
            NumClasses = Words.Shapes.Count,
            InputSize = inputSize,
            Anchors = Anchors(inputSize),
        }.Validate("--size/--depth/--width/--input-size");
    }

    /// <summary>
    /// Anchors for the benchmark's object sizes (sides 12-17 % or 25-33 % of the image): the three stride-32
    /// anchors (Darknet indices 6-8) are 14, 21 and 30 % of the input, the finer scales' anchors are smaller than
    /// any object, so every object is assigned to the stride-32 scale — the grid the REC model ranks (its
    /// GridScale 0). With COCO's anchors, small and large objects would land on different scales and the REC
    /// model, which ranks one scale, would miss one kind.
    /// </summary>
    public static double[][] Anchors(int inputSize) =>
        new[] { 0.02, 0.03, 0.04, 0.05, 0.065, 0.08, 0.14, 0.21, 0.30 }.Select(f => new[] { f * inputSize, f * inputSize }).ToArray();

    /// <summary>The box split's images at the detector's input size with every object's box (input pixels) and shape.</summary>
    public static DetectionData LoadData(string dataDir, int inputSize)
    {
        var labelled = SynthDetectionLabels.Read(dataDir, SynthSplits.Boxes);
        if (labelled.Count == 0) throw new GroundSharpException($"{dataDir}: the box split has no images to train the detector on");
        var (images, sizes) = DetectorInput.Load(labelled.Select(l => l.ImagePath).ToList(), inputSize);
        var labels = labelled.Select((l, i) => (IReadOnlyList<LabeledBox>)l.Objects
            .Select(o => new LabeledBox(DetectorInput.ToInput(o.Box, sizes[i].Width, sizes[i].Height, inputSize), (int)o.Shape)).ToList()).ToList();
        return new DetectionData(images, labels);
    }

    /// <summary>Trains a fresh detector (seeded) on the box split; progress goes to <paramref name="log"/> every <paramref name="logEvery"/> steps.</summary>
    public static YoloV3 Train(string dataDir, DetectorConfig config, DetectorTrainingOptions options, Action<string> log, int logEvery = 10)
    {
        var sw = Stopwatch.StartNew();
        using var data = new DisposableDetectionData(LoadData(dataDir, config.InputSize));
        int perEpoch = (data.Value.Count + options.BatchSize - 1) / options.BatchSize;
        int total = (int)Math.Min(options.MaxSteps ?? long.MaxValue, (long)options.Epochs * perEpoch);
        log($"detector: {data.Value.Count} images, {data.Value.Labels.Sum(l => l.Count)} objects, {total} steps of {options.BatchSize} ({perEpoch} steps per epoch), loaded in {sw.Elapsed.TotalSeconds:F1} s");
        var model = new YoloV3(config, options.Seed);
        var clock = Stopwatch.StartNew();
        DetectorTrainer.Train(model, data.Value, options, s =>
        {
            int done = s.Step + 1;
            if (done % logEvery == 0 || done == total || done == 1)
                log($"detector: step {done}/{total} (epoch {s.Epoch + 1}) loss {s.Loss:F3} box {s.BoxLoss:F3} obj {s.ObjectnessLoss:F3} cls {s.ClassLoss:F3} | {clock.Elapsed.TotalSeconds / done:F2} s/step");
        });
        return model;
    }

    private sealed class DisposableDetectionData(DetectionData value) : IDisposable
    {
        public DetectionData Value { get; } = value;
        public void Dispose() => Value.Images.Dispose();
    }
}
