using GroundSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// Detector training data held in memory: images (N, 3, S, S) with values in [0, 1] at the detector's input
/// size, and for each image its labelled boxes in the same pixel frame. The tensor stays owned by the caller.
/// </summary>
public sealed class DetectionData
{
    public Tensor Images { get; }
    public IReadOnlyList<IReadOnlyList<LabeledBox>> Labels { get; }

    public DetectionData(Tensor images, IReadOnlyList<IReadOnlyList<LabeledBox>> labels)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new GroundSharpException($"detection images must be (N, 3, S, S); got [{string.Join(", ", images.shape)}]");
        if (images.shape[0] != labels.Count)
            throw new GroundSharpException($"{images.shape[0]} detection images but {labels.Count} label lists");
        Images = images;
        Labels = labels;
    }

    public int Count => Labels.Count;
}

public sealed record DetectorTrainingOptions
{
    public int Epochs { get; init; } = 10;
    /// <summary>Stop after this many optimiser steps, even inside an epoch (null: run all epochs).</summary>
    public int? MaxSteps { get; init; }
    public int BatchSize { get; init; } = 8;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 5e-4;
    /// <summary>Seeds the batch order.</summary>
    public int Seed { get; init; } = 0;
}

/// <summary>Progress after one optimiser step.</summary>
public readonly record struct DetectorTrainingStep(int Epoch, int Step, double Loss, double BoxLoss, double ObjectnessLoss, double ClassLoss);

/// <summary>Trains a <see cref="YoloV3"/> on boxes with class labels (Adam, shuffled mini-batches).</summary>
public static class DetectorTrainer
{
    /// <summary>
    /// Runs <see cref="DetectorTrainingOptions.Epochs"/> epochs and returns the mean loss of each epoch.
    /// <paramref name="onStep"/> sees every step (for logging). The model is left in eval mode.
    /// </summary>
    public static List<double> Train(YoloV3 model, DetectionData data, DetectorTrainingOptions options, Action<DetectorTrainingStep>? onStep = null)
    {
        if (options.Epochs < 0 || options.BatchSize < 1) throw new GroundSharpException("epochs must be >= 0 and batch size >= 1");
        if (data.Images.shape[2] != model.Config.InputSize || data.Images.shape[3] != model.Config.InputSize)
            throw new GroundSharpException($"detection images are {data.Images.shape[3]}x{data.Images.shape[2]}, the detector's input size is {model.Config.InputSize}");
        var loss = new YoloLoss(model.Config);
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        using var optimizer = new OwnedScalarAdam(parameters, options.LearningRate, options.WeightDecay);
        var random = new Random(options.Seed);
        var epochLosses = new List<double>();
        int step = 0;
        model.train();
        try
        {
            for (int epoch = 0; epoch < options.Epochs && step < (options.MaxSteps ?? int.MaxValue); epoch++)
            {
                var order = Enumerable.Range(0, data.Count).OrderBy(_ => random.Next()).ToArray();
                double sum = 0;
                int batches = 0;
                for (int start = 0; start < order.Length && step < (options.MaxSteps ?? int.MaxValue); start += options.BatchSize)
                {
                    var indices = order.Skip(start).Take(options.BatchSize).ToArray();
                    using var scope = NewDisposeScope();
                    var images = data.Images.index_select(0, tensor(indices.Select(i => (long)i).ToArray())).to(model.backbone.stem.conv.weight!.device);
                    optimizer.zero_grad();
                    using var output = model.Forward(images);
                    using var terms = loss.Compute(model, output, indices.Select(i => data.Labels[i]).ToList());
                    terms.Total.backward();
                    optimizer.step();
                    double value = terms.Total.item<float>();
                    if (!double.IsFinite(value)) throw new GroundSharpException($"detector training diverged at epoch {epoch + 1}, step {step + 1} (loss {value}); lower the learning rate");
                    sum += value;
                    batches++;
                    onStep?.Invoke(new DetectorTrainingStep(epoch, step++, value, terms.Box.item<float>(), terms.Objectness.item<float>(), terms.Classification.item<float>()));
                }
                epochLosses.Add(batches == 0 ? double.NaN : sum / batches);
            }
        }
        finally
        {
            model.eval();
        }
        return epochLosses;
    }
}
