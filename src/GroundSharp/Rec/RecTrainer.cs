using GroundSharp.Training;
using GroundSharp.Eval;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>A referring expression about image <see cref="ImageIndex"/> of the data's image tensor.</summary>
public readonly record struct RecExpression(int ImageIndex, string Text);

/// <summary>
/// Weakly supervised REC training data: images (N, 3, S, S) in [0, 1] at the detector's input size and
/// expressions that each name their image. No boxes: that is the weak supervision.
/// </summary>
public sealed class RecTrainingData
{
    /// <summary>The images, or null when the data holds their frozen-detector encodings instead (<see cref="Visual"/>).</summary>
    public Tensor? Images { get; }
    /// <summary>Every image already encoded by the frozen detector (one row per image): the detector then runs once, not every epoch.</summary>
    public FrozenVisual? Visual { get; }
    public IReadOnlyList<RecExpression> Expressions { get; }

    /// <summary>Training data from encodings of the images (<see cref="RecModel.EncodeImages(Tensor, int)"/>), owned by the caller.</summary>
    public RecTrainingData(FrozenVisual visual, IReadOnlyList<RecExpression> expressions)
    {
        foreach (var e in expressions)
            if (e.ImageIndex < 0 || e.ImageIndex >= visual.Count)
                throw new GroundSharpException($"expression '{e.Text}' names image {e.ImageIndex}, but there are {visual.Count} images");
        Visual = visual;
        Expressions = expressions;
    }

    public RecTrainingData(Tensor images, IReadOnlyList<RecExpression> expressions)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new GroundSharpException($"REC images must be (N, 3, S, S); got [{string.Join(", ", images.shape)}]");
        foreach (var e in expressions)
            if (e.ImageIndex < 0 || e.ImageIndex >= images.shape[0])
                throw new GroundSharpException($"expression '{e.Text}' names image {e.ImageIndex}, but there are {images.shape[0]} images");
        Images = images;
        Expressions = expressions;
    }
}

public sealed record RecTrainingOptions
{
    public int Epochs { get; init; } = 25;
    /// <summary>Expressions per batch (the paper: 64); a batch never holds two expressions of one image.</summary>
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-4;
    public int Seed { get; init; } = 0;
    /// <summary>A checkpoint folder <c>step-NNNNNNN/</c> is written here after every epoch (null: none).</summary>
    public string? CheckpointDir { get; init; }
    /// <summary>Continue from the latest checkpoint in <see cref="CheckpointDir"/>: its weights, Adam moments, RNG and epoch; bitwise the run that was not stopped.</summary>
    public bool Resume { get; init; }
}

/// <summary>Values after one optimiser step.</summary>
/// <param name="EndOfEpoch">The epoch's last step (epochs differ in length: an image appears at most once per batch).</param>
public readonly record struct RecTrainingStep(int Epoch, int Step, double Loss, double Contrastive, double Regularisation,
    double FalseNegativeSuppression, double Lambda, double LambdaPrime, bool EndOfEpoch = false);

/// <summary>Trains everything but the frozen detector with Adam on Eq. 8.</summary>
public static class RecTrainer
{
    /// <summary>Runs the epochs (after a resumed checkpoint's) and returns the values of the steps run. The model is left in eval mode.</summary>
    public static List<RecTrainingStep> Train(RecModel model, RecTrainingData data, RecTrainingOptions options, Action<RecTrainingStep>? onStep = null,
        Action<string>? onCheckpoint = null)
    {
        if (options.Epochs < 0 || options.BatchSize < 2) throw new GroundSharpException("epochs must be >= 0 and the batch size >= 2 (the loss contrasts images)");
        if (options.Resume && options.CheckpointDir is null) throw new GroundSharpException("resuming needs the checkpoint folder");
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var optimizer = new OwnedScalarAdam(trainable.Select(p => p.parameter), options.LearningRate);
        int startEpoch = 0, stepIndex = 0;
        if (options.Resume && LatestCheckpoint(options.CheckpointDir!) is { } folder)
        {
            (startEpoch, stepIndex) = Restore(model, optimizer, trainable.Select(p => p.name).ToList(), folder, options);
            onCheckpoint?.Invoke($"resumed from {folder} (epoch {startEpoch}, step {stepIndex})");
        }
        int totalSteps = Enumerable.Range(0, options.Epochs).Sum(e => Batches(data.Expressions, options.BatchSize, EpochRandom(options.Seed, e)).Count(b => b.Count >= 2));
        var steps = new List<RecTrainingStep>();
        model.train();
        try
        {
            for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
            {
                var batches = Batches(data.Expressions, options.BatchSize, EpochRandom(options.Seed, epoch));
                int last = batches.FindLastIndex(b => b.Count >= 2);
                for (int i = 0; i < batches.Count; i++)
                {
                    var batch = batches[i];
                    if (batch.Count < 2) continue;
                    using var scope = NewDisposeScope();
                    var imageIndices = batch.Select(e => (long)e.ImageIndex).ToArray();
                    var texts = batch.Select(e => e.Text).ToList();
                    optimizer.zero_grad();
                    using var terms = data.Visual is { } cache
                        ? model.Loss(cache.Select(imageIndices), texts)
                        : model.Loss(data.Images!.index_select(0, tensor(imageIndices)), texts);
                    terms.Total.backward();
                    optimizer.step();
                    var step = new RecTrainingStep(epoch, stepIndex, terms.Total.item<float>(), terms.Contrastive.item<float>(),
                        terms.Regularisation.item<float>(), terms.FalseNegativeSuppression.item<float>(), model.loss.Lambda, model.loss.LambdaPrime, EndOfEpoch: i == last);
                    if (!double.IsFinite(step.Loss)) throw new GroundSharpException($"REC training diverged at epoch {epoch + 1}, step {stepIndex + 1} (loss {step.Loss}); lower the learning rate");
                    stepIndex++;
                    steps.Add(step);
                    onStep?.Invoke(step);
                }
                if (options.CheckpointDir is { } dir)
                {
                    var written = SaveCheckpoint(dir, model, optimizer, trainable.Select(p => p.name).ToList(), epoch + 1, stepIndex, totalSteps, options.Seed);
                    onCheckpoint?.Invoke($"checkpoint {written}");
                    // Each checkpoint holds the frozen detector too (240 MB at full size): keep the two latest.
                    foreach (var old in Directory.GetDirectories(dir, "step-*").OrderBy(d => d, StringComparer.Ordinal).SkipLast(2))
                        Directory.Delete(old, recursive: true);
                }
            }
        }
        finally
        {
            model.eval();
        }
        return steps;
    }

    /// <summary>The latest complete checkpoint folder in <paramref name="checkpointDir"/>, or null.</summary>
    public static string? LatestCheckpoint(string checkpointDir) =>
        Directory.Exists(checkpointDir)
            ? Directory.GetDirectories(checkpointDir, "step-*").Where(d => File.Exists(Path.Combine(d, TrainingCheckpoint.TrainerFile)))
                .OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
            : null;

    /// <summary>The optimiser steps a checkpoint folder was written after.</summary>
    public static int StepOf(string checkpointFolder)
    {
        var (trainer, state) = TrainingCheckpoint.LoadTrainer(checkpointFolder);
        foreach (var t in trainer.Values) t.Dispose();
        return state.Step;
    }

    private static List<Adam.State> States(Adam optimizer) => optimizer.state_dict().State.Cast<Adam.State>().ToList();

    private static string SaveCheckpoint(string dir, RecModel model, Adam optimizer, List<string> names, int epoch, int step, int totalSteps, int seed)
    {
        var states = States(optimizer);
        var tensors = new Dictionary<string, Tensor>();
        var steps = new Dictionary<string, long>();
        for (int i = 0; i < names.Count; i++)
        {
            steps[names[i]] = states[i].step;
            if (states[i].exp_avg is not null) tensors[$"optimizer.{names[i]}.exp_avg"] = states[i].exp_avg;
            if (states[i].exp_avg_sq is not null) tensors[$"optimizer.{names[i]}.exp_avg_sq"] = states[i].exp_avg_sq;
        }
        using var torchRng = torch.random.get_rng_state();
        var state = new TrainerState(step, totalSteps, 0, seed, steps, Epoch: epoch);
        return TrainingCheckpoint.Save(dir, model.Save, tensors, new Dictionary<string, Tensor> { ["rng.torch_global"] = torchRng }, state);
    }

    private static (int Epoch, int Step) Restore(RecModel model, Adam optimizer, List<string> names, string folder, RecTrainingOptions options)
    {
        var (trainer, state) = TrainingCheckpoint.LoadTrainer(folder);
        try
        {
            if (state.Epoch is not { } epoch) throw new GroundSharpException($"{folder}: not a REC training checkpoint (no epoch in its state)");
            if (state.Seed != options.Seed) throw new GroundSharpException($"{folder}: the run was started with seed {state.Seed}, not {options.Seed}");
            using (var saved = RecModel.Load(Path.Combine(folder, TrainingCheckpoint.ModelFile)))
            {
                if (RecJson.Serialize(saved.Config) != RecJson.Serialize(model.Config) || !saved.Vocabulary.Words.SequenceEqual(model.Vocabulary.Words))
                    throw new GroundSharpException($"{folder}: the checkpoint's model config or vocabulary differs from this run's");
                using var _ = no_grad();
                var own = model.state_dict();
                foreach (var (name, t) in saved.state_dict()) own[name].copy_(t);
            }
            var states = States(optimizer);
            using (no_grad())
                for (int i = 0; i < names.Count; i++)
                {
                    if (!state.OptimizerSteps.TryGetValue(names[i], out long steps))
                        throw new GroundSharpException($"{folder}: the checkpoint has no optimizer state for {names[i]}");
                    states[i].step = steps;
                    states[i].exp_avg.copy_(trainer[$"optimizer.{names[i]}.exp_avg"]);
                    states[i].exp_avg_sq.copy_(trainer[$"optimizer.{names[i]}.exp_avg_sq"]);
                }
            torch.random.set_rng_state(trainer["rng.torch_global"]);
            return (epoch, state.Step);
        }
        finally
        {
            foreach (var t in trainer.Values) t.Dispose();
        }
    }

    /// <summary>The batch order of one epoch depends only on the seed and the epoch, so a resumed run sees the same batches.</summary>
    public static Random EpochRandom(int seed, int epoch) => new(unchecked(seed * 1_000_003 + epoch) & int.MaxValue);

    /// <summary>Shuffled batches in which every image appears at most once (a repeated image would be its own negative).</summary>
    public static List<List<RecExpression>> Batches(IReadOnlyList<RecExpression> expressions, int batchSize, Random random)
    {
        var pending = expressions.OrderBy(_ => random.Next()).ToList();
        var batches = new List<List<RecExpression>>();
        while (pending.Count > 0)
        {
            var batch = new List<RecExpression>();
            var images = new HashSet<int>();
            var rest = new List<RecExpression>();
            foreach (var e in pending)
                if (batch.Count < batchSize && images.Add(e.ImageIndex)) batch.Add(e);
                else rest.Add(e);
            batches.Add(batch);
            pending = rest;
        }
        return batches;
    }
}

/// <summary>An expression to evaluate: its image, text, ground-truth box (input pixels) and split name.</summary>
public readonly record struct RecEvalItem(int ImageIndex, string Text, Box Target, string Split);

public sealed record RecEvaluationResult(AccuracyTable Accuracy, IReadOnlyList<RecPrediction> Predictions);

/// <summary>IoU@0.5 accuracy of REC predictions with the shared evaluation code.</summary>
public static class RecEvaluation
{
    /// <summary>
    /// Predicts a box for every item and counts a hit when <see cref="Iou.Inclusive"/> with the target is at least
    /// <see cref="BoxSelection.CorrectIou"/> (0.5), overall and per split.
    /// </summary>
    public static RecEvaluationResult Evaluate(RecModel model, Tensor images, IReadOnlyList<RecEvalItem> items, int batchSize = 32)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be at least 1");
        var table = new AccuracyTable();
        var predictions = new List<RecPrediction>();
        for (int start = 0; start < items.Count; start += batchSize)
        {
            var batch = items.Skip(start).Take(batchSize).ToList();
            using var scope = NewDisposeScope();
            var batchImages = images.index_select(0, tensor(batch.Select(e => (long)e.ImageIndex).ToArray()));
            var predicted = model.Predict(batchImages, batch.Select(e => e.Text).ToList());
            for (int i = 0; i < batch.Count; i++)
            {
                table.Add(Iou.Inclusive(predicted[i].Box, batch[i].Target) >= BoxSelection.CorrectIou, batch[i].Split);
                predictions.Add(predicted[i]);
            }
        }
        return new RecEvaluationResult(table, predictions);
    }
}
