using System.Diagnostics;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.IO;
using GroundSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>What one logged step reports.</summary>
public sealed record StepMetrics(int Step, int TotalSteps, int Epoch, double Lr, double Alpha, IReadOnlyDictionary<string, double> Losses,
    int BatchSize, int AmcSamples, double SamplesPerSecond, double StepSeconds);

/// <summary>Receives progress from <see cref="Trainer"/> (the CLI draws a progress bar or prints lines).</summary>
public interface ITrainingReporter
{
    void Started(int startStep, int totalSteps, string message);
    void Stepped(StepMetrics metrics);
    void Message(string message);
}

/// <summary>How a run starts: from scratch, from a published ALBEF/AMC checkpoint, or resumed.</summary>
public sealed record TrainStart
{
    /// <summary>A .pth (PyTorch) or .safetensors ALBEF/AMC checkpoint to initialise from (momentum copies and queues too, when present).</summary>
    public string? InitCheckpoint { get; init; }
    /// <summary>A checkpoint folder (or a run folder: its latest checkpoint) to continue exactly.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>Stop (with a checkpoint) after this many steps in total, without changing the schedule.</summary>
    public int? StopAfterStep { get; init; }
    /// <summary>false: write no checkpoint at all, not even the last (a throughput measurement, <c>bench</c>).</summary>
    public bool SaveCheckpoints { get; init; } = true;
}

public sealed record TrainResult(int LastStep, int TotalSteps, string? LastCheckpoint, string OutputDir, IReadOnlyDictionary<string, double> LastLosses);

/// <summary>
/// The training loop of <c>groundsharp train</c>: ALBEF objectives + AMC (<see cref="AlbefPretrainer"/>),
/// AdamW with warm-up + cosine schedule, optional gradient clipping, batches prepared on a background thread,
/// JSON-lines metrics, atomic checkpoints and exact resume (docs/training.md).
/// </summary>
public sealed class Trainer
{
    private readonly TrainConfig _config;
    private readonly ITrainingReporter _reporter;

    public Trainer(TrainConfig config, ITrainingReporter reporter)
    {
        _config = config.Validate();
        _reporter = reporter;
    }

    /// <summary>
    /// How many times a run recovers from TorchSharp's transient native <c>Scalar</c> error (see
    /// <see cref="TransientNativeError"/>) by resuming from its latest checkpoint, in the same process.
    /// </summary>
    public int NativeErrorRetries { get; init; } = TransientNativeError.DefaultRetries;

    /// <summary>Test hook: called with the 0-based step before it runs (fault injection).</summary>
    internal Action<int>? BeforeStep { get; init; }

    private string? _lastCheckpointWritten;

    /// <summary>
    /// Trains from <paramref name="start"/> to the end of the schedule (or <see cref="TrainStart.StopAfterStep"/>).
    /// A transient native error restarts from the run's latest checkpoint, or from <paramref name="start"/> when
    /// none was written yet; exact resume makes the result the same as a run without the error.
    /// </summary>
    public TrainResult Run(TrainStart start, CancellationToken cancel = default)
    {
        _lastCheckpointWritten = null;
        var attempt = start;
        return TransientNativeError.Retry(() => RunOnce(attempt, cancel), () =>
        {
            // Only a checkpoint this call wrote: an output folder may hold older runs' checkpoints.
            string? latest = _lastCheckpointWritten;
            attempt = latest is null ? start : start with { ResumeFrom = latest, InitCheckpoint = null };
            return latest ?? "the start";
        }, _reporter.Message, NativeErrorRetries);
    }

    private TrainResult RunOnce(TrainStart start, CancellationToken cancel)
    {
        var cfg = _config;
        var device = AlbefLoader.ResolveDevice(cfg.Device);
        var tokenizer = cfg.Vocab is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(cfg.Vocab);
        if (tokenizer.MaskId < 0 && cfg.Objectives.Mlm) throw new GroundSharpException($"vocabulary {tokenizer.VocabSource} has no [MASK] token, which MLM needs");
        if (tokenizer.VocabSize > cfg.Model.Bert.VocabSize)
            throw new GroundSharpException($"vocabulary {tokenizer.VocabSource} has {tokenizer.VocabSize} tokens, more than the model's vocab_size {cfg.Model.Bert.VocabSize}");
        var data = TrainingData.Load(cfg.DataFiles, cfg.ImageRoot);
        foreach (var w in data.Warnings) _reporter.Message("warning: " + w);
        int stepsPerEpoch = BatchPipeline.StepsPerEpochFor(data.Samples.Count, cfg.BatchSize);
        if (stepsPerEpoch == 0) throw new GroundSharpException($"the dataset has {data.Samples.Count} usable samples, fewer than batch_size {cfg.BatchSize}");
        int totalSteps = cfg.MaxSteps ?? cfg.Epochs * stepsPerEpoch;
        Directory.CreateDirectory(cfg.OutputDir);
        string checkpointsDir = Path.Combine(cfg.OutputDir, "checkpoints");
        if (TrainingCheckpoint.RemoveUnfinished(checkpointsDir) is > 0 and var removed)
            _reporter.Message($"removed {removed} unfinished checkpoint folder(s) (.step-*.tmp) left by an interrupted write in {checkpointsDir}");

        var tags = cfg.Objectives.Tags || cfg.Objectives.TagItm ? TagVocabulary.From(data) : null;
        if (tags is { Count: 0 }) throw new GroundSharpException($"objectives.{(cfg.Objectives.Tags ? "tags" : "tag_itm")} is on, but no sample of the data files has \"tags\"");
        var tagMatching = cfg.Objectives.TagItm ? new TagMatching(tags!, cfg.TagItmTexts) : null;
        var negatives = cfg.FilterFalseNegatives ? NegativeFilter.From(data) : null;
        bool swapping = cfg.ItmSwapNegatives > 0 && cfg.Objectives.Itm;
        var swapper = swapping ? new WordSwapNegatives(cfg.SwapWordClasses ?? WordSwapNegatives.SyntheticClasses, negatives ?? NegativeFilter.From(data)) : null;

        torch.manual_seed(cfg.Seed);
        var model = new AlbefModel(cfg.Model, cfg.Seed);
        using var pretrainer = new AlbefPretrainer(model, cfg.Seed, cfg.Objectives.Tags ? tags!.Count : 0);
        using var generator = new Generator((ulong)cfg.Seed + 2);
        int firstStep = 0;
        Dictionary<string, Tensor>? resumedTrainer = null;
        TrainerState? resumed = null;
        string origin;
        if (start.ResumeFrom is not null)
        {
            string folder = TrainingCheckpoint.Resolve(start.ResumeFrom);
            var (sd, trainerTensors, state, savedConfig) = TrainingCheckpoint.Load(folder);
            if (savedConfig.ToJson() != cfg.Model.ToJson())
                throw new GroundSharpException($"--resume {folder}: the checkpoint's model config differs from this run's");
            if (state.StepsPerEpoch != stepsPerEpoch || state.Seed != cfg.Seed)
                throw new GroundSharpException($"--resume {folder}: the dataset size or seed differ from the interrupted run (steps per epoch {state.StepsPerEpoch} vs {stepsPerEpoch}, seed {state.Seed} vs {cfg.Seed}); the data order would not continue");
            pretrainer.LoadStateDict(sd, strict: true, folder);
            foreach (var t in sd.Values) t.Dispose();
            resumedTrainer = trainerTensors;
            resumed = state;
            firstStep = state.Step;
            origin = $"resumed from {folder} at step {state.Step}";
        }
        else if (start.InitCheckpoint is not null)
        {
            var sd = LoadInitStateDict(start.InitCheckpoint);
            var report = pretrainer.LoadStateDict(sd, strict: true, start.InitCheckpoint);
            foreach (var t in sd.Values) t.Dispose();
            origin = report.Summary(start.InitCheckpoint);
        }
        else origin = "initialised from scratch";
        if (device.type != DeviceType.CPU)
        {
            pretrainer.Model.to(device);
            pretrainer.Momentum.to(device);
            pretrainer.TagHead?.to(device);
        }

        var named = UniqueTrainableParameters(pretrainer.Model).Concat(pretrainer.ExtraParameters).ToList();
        var optimizer = CreateOptimizer(named, cfg);
        var schedule = new LearningRateSchedule(cfg.Lr, cfg.MinLr, cfg.WarmupSteps, totalSteps);
        if (resumed is not null)
        {
            RestoreOptimizer(optimizer, named, resumedTrainer!, resumed);
            torch.random.set_rng_state(resumedTrainer!["rng.torch_global"]);
            generator.set_state(resumedTrainer["rng.trainer"]);
            foreach (var t in resumedTrainer.Values) t.Dispose();
        }
        // A resumed run drops the lines of the steps it redoes; a fresh one starts the log afresh, not after an old run's steps.
        TruncateMetrics(resumed?.Step ?? 0);

        int lastStep = totalSteps;
        if (start.StopAfterStep is int stop) lastStep = Math.Min(totalSteps, stop);
        _reporter.Started(firstStep, totalSteps, origin);
        var mlmTokens = MlmTokens.From(tokenizer, cfg.Model.Bert.VocabSize);
        var augmenter = new TripletAugmenter(cfg.Model.ImageRes, cfg.Augmentation);
        string? lastCheckpoint = null;
        IReadOnlyDictionary<string, double> lastLosses = new Dictionary<string, double>();
        using var metrics = new StreamWriter(Path.Combine(cfg.OutputDir, "metrics.jsonl"), append: true);
        using (var pipeline = new BatchPipeline(data, augmenter, cfg.BatchSize, cfg.Seed, firstStep, lastStep, cfg.PrefetchBatches))
        {
            pretrainer.Train();
            var clock = Stopwatch.StartNew();
            long filteredPairs = 0, offDiagonalPairs = 0, swappedTexts = 0, itemsSeen = 0;
            for (int step = firstStep; step < lastStep; step++)
            {
                cancel.ThrowIfCancellationRequested();
                var prepared = pipeline.Next(cancel);
                BeforeStep?.Invoke(step);
                foreach (var w in prepared.Warnings) _reporter.Message("warning: " + w);
                double lr = schedule.At(step);
                double alpha = LearningRateSchedule.Alpha(cfg.Model.Alpha, step, stepsPerEpoch);
                var stepClock = Stopwatch.StartNew();
                Dictionary<string, double> values;
                int amcSamples;
                using (var scope = NewDisposeScope())
                {
                    // The swaps of a step are drawn from (seed, step), so a resumed run draws the same ones.
                    var swaps = swapper is null ? ((WordSwapNegatives, double, Random)?)null : (swapper, cfg.ItmSwapNegatives, new Random(unchecked((int)(cfg.Seed * 1_000_003 + step))));
                    var tagPairs = tagMatching is null ? ((TagMatching, Random)?)null : (tagMatching, new Random(unchecked((int)(cfg.Seed * 1_000_033 + step))));
                    using var cpuBatch = BatchCollator.Collate(prepared.Samples, tokenizer, cfg.Model, device: null, cfg.Objectives.Tags ? tags : null, negatives, swaps, tagPairs);
                    swappedTexts += cpuBatch.SwappedNegatives?.Items.Length ?? 0;
                    if (cpuBatch.TextFitsImage is { } fits)
                    {
                        int n = cpuBatch.Size;
                        filteredPairs += Enumerable.Range(0, n * n).Count(k => fits[k / n, k % n]);
                        offDiagonalPairs += n * (n - 1);
                    }
                    var batch = cpuBatch.To(device);
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                    optimizer.zero_grad();
                    using var losses = pretrainer.ComputeLosses(batch, alpha, cfg.Objectives, cfg.Amc, mlmTokens, generator, cfg.ItmRandomNegatives);
                    losses.Total.backward();
                    if (cfg.GradClip is double clip) nn.utils.clip_grad_norm_(named.Select(p => p.Parameter), clip);
                    optimizer.step();
                    values = losses.ToValues();
                    amcSamples = losses.AmcSamples;
                }
                itemsSeen += prepared.Samples.Count;
                int done = step + 1;
                var m = new StepMetrics(done, totalSteps, step / stepsPerEpoch, lr, alpha, values, prepared.Samples.Count, amcSamples,
                    prepared.Samples.Count / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds), stepClock.Elapsed.TotalSeconds);
                lastLosses = values;
                if (done % cfg.LogEvery == 0 || done == lastStep)
                {
                    metrics.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["step"] = done, ["epoch"] = m.Epoch, ["lr"] = lr, ["alpha"] = alpha, ["batch_size"] = m.BatchSize,
                        ["amc_samples"] = amcSamples, ["samples_per_s"] = m.SamplesPerSecond, ["losses"] = values,
                    }));
                    metrics.Flush();
                }
                _reporter.Stepped(m);
                bool periodic = cfg.CheckpointEvery > 0 && done % cfg.CheckpointEvery == 0;
                if (start.SaveCheckpoints && (periodic || done == lastStep))
                {
                    lastCheckpoint = SaveCheckpoint(checkpointsDir, pretrainer, optimizer, named, generator, done, totalSteps, stepsPerEpoch);
                    _lastCheckpointWritten = lastCheckpoint;
                }
            }
            _reporter.Message($"{lastStep - firstStep} steps in {clock.Elapsed.TotalSeconds:F1} s");
            if (offDiagonalPairs > 0)
                _reporter.Message($"false-negative filter: {100.0 * filteredPairs / offDiagonalPairs:F1} % of the in-batch text–image pairs were true by the words said about the image, and not used as negatives");
            if (swapper is not null && itemsSeen > 0)
                _reporter.Message($"word-swap negatives: {100.0 * swappedTexts / itemsSeen:F1} % of the items had a swapped ITM negative text (asked: {100 * cfg.ItmSwapNegatives:F0} %)");
        }
        if (lastStep == totalSteps && cfg.ExportPth)
        {
            string pth = Path.Combine(cfg.OutputDir, "model.pth");
            var sd = pretrainer.StateDict();
            try { TorchCheckpointWriter.SaveCheckpoint(pth, sd); }
            finally { foreach (var t in sd.Values) t.Dispose(); }
            _reporter.Message($"exported {pth}");
        }
        return new TrainResult(lastStep, totalSteps, lastCheckpoint, cfg.OutputDir, lastLosses);
    }

    private static Dictionary<string, Tensor> LoadInitStateDict(string path)
    {
        CheckpointPath.RequireFile(path, "--init: checkpoint");
        return path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            ? SafeTensors.Load(path).Tensors
            : TorchCheckpointReader.LoadStateDict(path);
    }

    /// <summary>Trainable parameters by name, each tensor once (the MLM decoder shares the word embeddings).</summary>
    public static List<(string Name, Parameter Parameter)> UniqueTrainableParameters(AlbefModel model)
    {
        var seen = new HashSet<IntPtr>();
        return model.named_parameters().Where(p => p.parameter.requires_grad && seen.Add(p.parameter.Handle)).Select(p => (p.name, p.parameter)).ToList();
    }

    /// <summary>
    /// AdamW with ALBEF's parameter groups (timm's create_optimizer): no weight decay on biases and 1-D
    /// parameters (LayerNorm weights, cls_token is 3-D and decays as in timm); everything else decays.
    /// </summary>
    private static AdamW CreateOptimizer(List<(string Name, Parameter Parameter)> named, TrainConfig cfg)
    {
        var (decay, noDecay) = DecayGroups(named);
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay.Select(p => p.Parameter), new AdamW.Options { LearningRate = cfg.Lr, weight_decay = cfg.WeightDecay }),
            new(noDecay.Select(p => p.Parameter), new AdamW.Options { LearningRate = cfg.Lr, weight_decay = 0.0 }),
        };
        return new OwnedScalarAdamW(groups, cfg.Lr, cfg.WeightDecay);
    }

    /// <summary>The parameters that decay and those that do not (biases and 1-D parameters), each in model order.</summary>
    private static (List<(string Name, Parameter Parameter)> Decay, List<(string Name, Parameter Parameter)> NoDecay) DecayGroups(
        List<(string Name, Parameter Parameter)> named)
    {
        static bool NoDecay((string Name, Parameter Parameter) p) => p.Parameter.dim() == 1 || p.Name.EndsWith(".bias");
        return (named.Where(p => !NoDecay(p)).ToList(), named.Where(NoDecay).ToList());
    }

    /// <summary>The optimizer's per-parameter states in parameter order (TorchSharp lists them group by group).</summary>
    private static List<AdamW.State> States(AdamW optimizer) => optimizer.state_dict().State.Cast<AdamW.State>().ToList();

    /// <summary>Parameters in the optimizer's order: the decay group, then the no-decay group.</summary>
    private static List<string> OptimizerOrder(List<(string Name, Parameter Parameter)> named)
    {
        var (decay, noDecay) = DecayGroups(named);
        return decay.Concat(noDecay).Select(p => p.Name).ToList();
    }

    private string SaveCheckpoint(string dir, AlbefPretrainer pretrainer, AdamW optimizer, List<(string Name, Parameter Parameter)> named,
        Generator generator, int step, int totalSteps, int stepsPerEpoch)
    {
        var order = OptimizerOrder(named);
        var states = States(optimizer);
        var tensors = new Dictionary<string, Tensor>();
        var steps = new Dictionary<string, long>();
        for (int i = 0; i < order.Count; i++)
        {
            var s = states[i];
            steps[order[i]] = s.step;
            if (s.exp_avg is not null) tensors[$"optimizer.{order[i]}.exp_avg"] = s.exp_avg;
            if (s.exp_avg_sq is not null) tensors[$"optimizer.{order[i]}.exp_avg_sq"] = s.exp_avg_sq;
        }
        using var torchRng = torch.random.get_rng_state();
        using var trainerRng = generator.get_state();
        var state = new TrainerState(step, totalSteps, stepsPerEpoch, _config.Seed, steps);
        string folder = TrainingCheckpoint.Save(dir, pretrainer, tensors, torchRng, trainerRng, state);
        _reporter.Message($"checkpoint {folder}");
        return folder;
    }

    private static void RestoreOptimizer(AdamW optimizer, List<(string Name, Parameter Parameter)> named, Dictionary<string, Tensor> saved, TrainerState state)
    {
        var order = OptimizerOrder(named);
        var states = States(optimizer);
        using var _ = no_grad();
        for (int i = 0; i < order.Count; i++)
        {
            var s = states[i];
            if (!state.OptimizerSteps.TryGetValue(order[i], out long steps))
                throw new GroundSharpException($"--resume: the checkpoint has no optimizer state for {order[i]}");
            s.step = steps;
            s.exp_avg.copy_(saved[$"optimizer.{order[i]}.exp_avg"]);
            s.exp_avg_sq.copy_(saved[$"optimizer.{order[i]}.exp_avg_sq"]);
        }
    }

    /// <summary>On resume, drops metric lines of steps after the checkpoint (they are about to be redone).</summary>
    private void TruncateMetrics(int step)
    {
        string path = Path.Combine(_config.OutputDir, "metrics.jsonl");
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(line =>
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.GetProperty("step").GetInt32() <= step;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return false;
            }
        }).ToList();
        AtomicFile.Write(path, s =>
        {
            using var w = new StreamWriter(s, leaveOpen: true);
            foreach (var line in kept) w.WriteLine(line);
        });
    }
}
