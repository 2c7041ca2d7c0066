using GroundSharp.IO;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Models;
using GroundSharp.Rec;

namespace GroundSharp.Experiments;

/// <summary>One REC model of the experiment: the paper's ablation switches and how the CMA features are conditioned in training.</summary>
public sealed record RecVariant(string Name, string Description, bool UseCma, bool UseRegularisation, bool UseFalseNegativeSuppression,
    RecTextConditioning Conditioning = RecTextConditioning.OwnText)
{
    /// <summary>Baseline (RefCLIP-style), then +CMA, +CMA+L_reg, +CMA+L_reg+L_fns with the authors' own-text conditioning and with query conditioning.</summary>
    public static IReadOnlyList<RecVariant> All { get; } =
    [
        new("baseline", "baseline (no CMA, L_con only)", false, false, false),
        new("cma", "+ CMA", true, false, false),
        new("cma-reg", "+ CMA + L_reg", true, true, false),
        new("cma-reg-fns", "+ CMA + L_reg + L_fns", true, true, true),
        new("cma-query", "+ CMA, query-conditioned", true, false, false, RecTextConditioning.Query),
        new("cma-reg-query", "+ CMA + L_reg, query-conditioned", true, true, false, RecTextConditioning.Query),
        new("cma-reg-fns-query", "+ CMA + L_reg + L_fns, query-conditioned", true, true, true, RecTextConditioning.Query),
    ];

    /// <summary>
    /// The default run: the baseline, the paper's ablation rows (C, C+E, C+E+F) with query conditioning (the better one,
    /// docs/rec.md), and +CMA with the authors' own-text conditioning for the comparison; <see cref="All"/> adds the
    /// own-text L_reg and L_fns rows.
    /// </summary>
    public static IReadOnlyList<RecVariant> Default { get; } =
        All.Where(v => v.Name is "baseline" or "cma" or "cma-query" or "cma-reg-query" or "cma-reg-fns-query").ToList();

    /// <summary>The variants named in a comma-separated list, in the list's order.</summary>
    public static IReadOnlyList<RecVariant> Parse(string names)
    {
        var result = new List<RecVariant>();
        foreach (var name in names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            result.Add(All.FirstOrDefault(v => v.Name == name)
                ?? throw new GroundSharpException($"unknown REC variant '{name}'; the variants are {string.Join(", ", All.Select(v => v.Name))}"));
        if (result.Count == 0) throw new GroundSharpException("no REC variant named");
        return result;
    }
}

/// <summary>Knobs of <see cref="RecExperiment"/>; the defaults are the documented run (docs/rec.md).</summary>
public sealed record RecExperimentOptions
{
    public required string OutDir { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>The AMC experiment's benchmark with fewer caption images: each split is seeded on its own, so the box and evaluation splits are AMC's files and both methods meet on the same items.</summary>
    public SynthBenchmarkOptions Data { get; init; } = new AmcExperimentOptions { OutDir = "" }.Data with { Pretrain = 1500 };
    public string DetectorSize { get; init; } = "small";
    public int InputSize { get; init; } = 256;
    public int DetectorSteps { get; init; } = 1200;
    public int DetectorBatchSize { get; init; } = 8;
    public double DetectorLr { get; init; } = 1e-3;
    /// <summary>The REC model; its detector part is replaced by the trained detector's config.</summary>
    public RecConfig Model { get; init; } = SmallModel;
    /// <summary>
    /// Images of the REC training split: a box split of its own (seed <see cref="RecDataSeed"/>, data-rec/), whose
    /// phrases — never its boxes — are the image–expression pairs; 0 trains on the AMC benchmark's box split (the
    /// detector's) as before the eleventh session. Five times the images at the same steps: +5.2 points (docs/rec.md).
    /// </summary>
    public int RecImages { get; init; } = 3000;
    /// <summary>The REC training split's seed offset from <see cref="Seed"/> (its images are none of the benchmark's).</summary>
    public const int RecDataSeedOffset = 1000;
    public int RecDataSeed => Seed + RecDataSeedOffset;
    public int RecEpochs { get; init; } = 5;
    public int RecBatchSize { get; init; } = 32;
    public double RecLr { get; init; } = 2e-4;
    /// <summary>Evaluate at most this many phrases per split (null = all).</summary>
    public int? EvalLimit { get; init; }
    /// <summary>An AMC experiment folder: its AMC model's GradCAM box selection over the detector's proposals is reported next to REC.</summary>
    public string? AmcDir { get; init; }
    public IReadOnlyList<RecVariant> Variants { get; init; } = RecVariant.Default;

    /// <summary>A small REC model for CPU runs: the stride-32 grid (8×8 at 256 px), 128-wide fusion, CMA and embeddings.</summary>
    public static RecConfig SmallModel => new()
    {
        Language = new LanguageConfig { WordDim = 64, Hidden = 128, Heads = 4, MaxLength = 12 },
        GridScale = 0, FusedDim = 128, CmaHeads = 4, CmaFfnHidden = 256, EmbedDim = 128, TopK = 16,
    };

    /// <summary>Seconds instead of an hour: a smoke test of the whole pipeline (numbers are not meaningful).</summary>
    public static RecExperimentOptions Quick(string outDir, int seed = 1) => new()
    {
        OutDir = outDir, Seed = seed,
        Data = SynthBenchmarkOptions.Tiny(seed),
        DetectorSize = "tiny", InputSize = 64, DetectorSteps = 2, DetectorBatchSize = 4,
        Model = new RecConfig
        {
            Language = new LanguageConfig { WordDim = 8, Hidden = 16, Heads = 2, MaxLength = 12 },
            GridScale = 0, FusedDim = 16, CmaHeads = 2, CmaFfnHidden = 32, EmbedDim = 8, TopK = 4,
        },
        RecImages = 6, RecEpochs = 1, RecBatchSize = 8, EvalLimit = 6, Variants = RecVariant.All,
    };
}

/// <summary>The detector stage's record (runs/detector/stage.json).</summary>
public sealed record RecDetectorStage(string Checkpoint, int Steps, int StepsPerEpoch, double Seconds)
{
    public double SecondsPerStep => Steps == 0 ? 0 : Seconds / Steps;
}

/// <summary>One row of the results: a model and its report per evaluation split, with its training time.</summary>
public sealed record RecExperimentRow(string Name, string Description, string Checkpoint, IReadOnlyDictionary<string, EvalReport> Splits,
    int Epochs = 0, int Steps = 0, double TrainSeconds = 0)
{
    public double SecondsPerEpoch => Epochs == 0 ? 0 : TrainSeconds / Epochs;
}

/// <summary>
/// The REC paper's ablation on the synthetic benchmark, deterministic and on CPU: train a small YOLOv3 on the box
/// split with shapes as its only classes; train the REC model from the box split's image–phrase pairs (no boxes)
/// for the baseline and the CMA/L_reg/L_fns variants; report IoU@0.5 on val, test and test-compositional — and,
/// given an AMC experiment, that model's GradCAM box selection over the same detector's proposals. Stages whose
/// stage.json exists are reused, so an interrupted run continues.
/// </summary>
public sealed class RecExperiment(RecExperimentOptions options, Action<string> log)
{
    public const string ResultsFile = "results.json";
    public const string AmcRowName = "amc-box-selection";
    public const string AmcRunName = "finetune-mean-and-max";

    public string DataDir => Path.Combine(options.OutDir, "data");
    /// <summary>The REC training split's folder (the benchmark's own when <see cref="RecExperimentOptions.RecImages"/> is 0).</summary>
    public string RecDataDir => options.RecImages > 0 ? Path.Combine(options.OutDir, "data-rec") : DataDir;

    /// <summary>The separate REC training split: box images only, seeded apart from the benchmark.</summary>
    private SynthBenchmarkOptions RecData => options.Data with
    {
        Seed = options.RecDataSeed, Pretrain = 0, Boxes = options.RecImages, Val = 0, Test = 0, TestCompositional = 0,
    };

    public IReadOnlyList<RecExperimentRow> Run()
    {
        var sw = Stopwatch.StartNew();
        if (options.AmcDir is { } amc) AmcCheckpoint(amc); // fail before hours of training, not after
        Directory.CreateDirectory(options.OutDir);
        PrepareData();
        var detectorStage = TrainDetector();
        using var detector = YoloV3.Load(detectorStage.Checkpoint);
        var items = SynthSplits.Evaluation.ToDictionary(s => s, s => ReadItems(s));
        var rows = new List<RecExperimentRow>();
        // Encoded only when a variant still has to train (a finished run reuses every stage).
        var cache = new Lazy<ExperimentImages>(() => EncodeAll(detector, items));
        try
        {
            foreach (var variant in options.Variants)
                rows.Add(TrainVariant(variant, detector, items, cache));
        }
        finally
        {
            if (cache.IsValueCreated) cache.Value.Dispose();
        }
        if (options.AmcDir is { } amcDir) rows.Add(AmcBoxSelection(amcDir, detector, items));
        WriteResults(detectorStage, rows, sw.Elapsed);
        log($"done in {sw.Elapsed.TotalMinutes:F1} min: {Path.Combine(options.OutDir, "results.md")}");
        return rows;
    }

    private void PrepareData()
    {
        AmcExperiment.WriteDataOnce(options.Data with { Seed = options.Seed }, DataDir, $"the synthetic benchmark (seed {options.Seed})", log);
        if (options.RecImages > 0)
            AmcExperiment.WriteDataOnce(RecData, RecDataDir, $"the REC training split ({options.RecImages} box images, seed {options.RecDataSeed}; their boxes are never read)", log);
    }

    private RecDetectorStage TrainDetector()
    {
        var dir = Path.Combine(options.OutDir, "runs", "detector");
        var stagePath = Path.Combine(dir, "stage.json");
        StageSettings.Check(dir, "detector", new
        {
            data = AmcExperiment.DataKnobs(options.Data with { Seed = options.Seed }), size = options.DetectorSize, input_size = options.InputSize,
            steps = options.DetectorSteps, batch_size = options.DetectorBatchSize, lr = options.DetectorLr, seed = options.Seed,
        });
        if (ReadStage<RecDetectorStage>(stagePath) is { } cached && File.Exists(cached.Checkpoint)) { log($"detector: reusing {stagePath}"); return cached; }
        Directory.CreateDirectory(dir);
        var config = SynthDetector.Config(options.DetectorSize, options.InputSize);
        var training = new DetectorTrainingOptions
        {
            Epochs = int.MaxValue, MaxSteps = options.DetectorSteps, BatchSize = options.DetectorBatchSize, LearningRate = options.DetectorLr, Seed = options.Seed,
        };
        var clock = Stopwatch.StartNew();
        var checkpoint = Path.Combine(dir, "detector.safetensors");
        TransientNativeError.Retry("the detector's training", () =>
        {
            TorchSharp.torch.random.manual_seed(options.Seed);
            using var detector = SynthDetector.Train(DataDir, config, training, log, logEvery: 25);
            detector.Save(checkpoint);
        }, log);
        int perEpoch = (options.Data.Boxes + options.DetectorBatchSize - 1) / options.DetectorBatchSize;
        var stage = new RecDetectorStage(checkpoint, options.DetectorSteps, perEpoch, clock.Elapsed.TotalSeconds);
        WriteJson(stagePath, stage);
        return stage;
    }

    private List<GroundingEvalItem> ReadItems(string split)
    {
        var items = GroundingEvaluator.FromSampleFile(Path.Combine(DataDir, split + ".jsonl"), split);
        return (options.EvalLimit is { } limit ? items.Take(limit) : items).ToList();
    }

    /// <summary>The box split's images and the evaluation images, encoded once by the frozen detector for all variants.</summary>
    private sealed class ExperimentImages(EncodedImages training, EncodedImages evaluation, List<RecExpression> expressions) : IDisposable
    {
        public EncodedImages Training { get; } = training;
        public EncodedImages Evaluation { get; } = evaluation;
        public List<RecExpression> Expressions { get; } = expressions;
        public void Dispose()
        {
            Training.Dispose();
            Evaluation.Dispose();
        }
    }

    private ExperimentImages EncodeAll(YoloV3 detector, Dictionary<string, List<GroundingEvalItem>> items)
    {
        var clock = Stopwatch.StartNew();
        // Image-expression pairs only: the phrases of the REC training split with their images; the boxes are never read.
        var samples = GroundingSampleFile.Read(Path.Combine(RecDataDir, SynthSplits.Boxes + ".jsonl")).ToList();
        var trainingPaths = samples.Select(s => s.ImagePath).Distinct().ToList();
        using var encoder = new RecModel(options.Model, RecVocabulary.Build(samples.Select(s => s.Text)), detector, options.Seed);
        var training = EncodedImages.Encode(encoder, trainingPaths);
        var expressions = samples.Select(s => new RecExpression(training.Row(s.ImagePath), s.Text)).ToList();
        var evaluation = EncodedImages.Encode(encoder, items.Values.SelectMany(l => l).Select(i => i.ImagePath).Distinct().ToList());
        log($"encoded {trainingPaths.Count} training and {evaluation.Paths.Count} evaluation images with the frozen detector in {clock.Elapsed.TotalSeconds:F1} s");
        return new ExperimentImages(training, evaluation, expressions);
    }

    private RecExperimentRow TrainVariant(RecVariant variant, YoloV3 detector, Dictionary<string, List<GroundingEvalItem>> items, Lazy<ExperimentImages> cache)
    {
        var dir = Path.Combine(options.OutDir, "runs", variant.Name);
        var stagePath = Path.Combine(dir, "stage.json");
        var config = options.Model with
        {
            UseCma = variant.UseCma,
            TextConditioning = variant.Conditioning,
            Loss = options.Model.Loss with { UseRegularisation = variant.UseRegularisation, UseFalseNegativeSuppression = variant.UseFalseNegativeSuppression },
        };
        // The detector's own settings are checked by its stage; a variant depends on them through the detector file.
        var settings = new Dictionary<string, object?> { ["data"] = AmcExperiment.DataKnobs(options.Data with { Seed = options.Seed }) };
        // Recorded only for a separate split, so folders trained on the box split keep their settings.
        if (options.RecImages > 0) settings["rec_data"] = AmcExperiment.DataKnobs(RecData);
        settings["epochs"] = options.RecEpochs;
        settings["batch_size"] = options.RecBatchSize;
        settings["lr"] = options.RecLr;
        settings["seed"] = options.Seed;
        settings["eval_limit"] = options.EvalLimit;
        settings["model"] = JsonDocument.Parse(RecJson.Serialize(config)).RootElement;
        StageSettings.Check(dir, variant.Name, settings);
        if (ReadStage<RecExperimentRow>(stagePath) is { } cached && File.Exists(cached.Checkpoint)) { log($"{variant.Name}: reusing {stagePath}"); return cached; }
        Directory.CreateDirectory(dir);
        var images = cache.Value;
        // A redo after TorchSharp's transient native error starts the variant over; seeded, it gives the same result.
        var row = TransientNativeError.Retry(variant.Name, () =>
        {
            // Modules outside SeededInit draw from torch's global generator: reseed so a stage does not depend on the stages run before it.
            TorchSharp.torch.random.manual_seed(options.Seed);
            using var model = new RecModel(config, RecVocabulary.Build(images.Expressions.Select(e => e.Text)), detector, options.Seed);
            var data = new RecTrainingData(images.Training.Visual, images.Expressions);
            int perEpoch = RecTrainer.Batches(images.Expressions, options.RecBatchSize, new Random(0)).Count;
            log($"{variant.Name}: {variant.Description} — {options.RecEpochs} epochs of ~{perEpoch} steps ({images.Expressions.Count} expressions, batch {options.RecBatchSize})");
            var clock = Stopwatch.StartNew();
            var steps = RecTrainer.Train(model, data, new RecTrainingOptions { Epochs = options.RecEpochs, BatchSize = options.RecBatchSize, LearningRate = options.RecLr, Seed = options.Seed },
                step =>
                {
                    if (step.Step == 0 || step.EndOfEpoch)
                        log(string.Create(CultureInfo.InvariantCulture,
                            $"  {variant.Name}: epoch {step.Epoch + 1}/{options.RecEpochs} step {step.Step + 1} loss {step.Loss:F3} con {step.Contrastive:F3} reg {step.Regularisation:F3} fns {step.FalseNegativeSuppression:F3} λ {step.Lambda:F3} λ' {step.LambdaPrime:F3} | {clock.Elapsed.TotalSeconds / (step.Step + 1):F3} s/step"));
                });
            double seconds = clock.Elapsed.TotalSeconds;
            var checkpoint = Path.Combine(dir, "rec.safetensors");
            model.Save(checkpoint);
            var splits = new Dictionary<string, EvalReport>();
            foreach (var (split, list) in items)
            {
                if (list.Count == 0) continue;
                var report = RecGroundingEval.Run(model, images.Evaluation, list, "synth", split, variant.Name);
                splits[split] = report;
                log($"{variant.Name} / {split}: IoU@0.5 {Percent(Accuracy(report))} ({report.RecallAtK!["R@1"].Overall.Hits}/{report.Items})");
            }
            return new RecExperimentRow(variant.Name, variant.Description, checkpoint, splits, options.RecEpochs, steps.Count, seconds);
        }, log);
        WriteJson(stagePath, row);
        return row;
    }

    /// <summary>The AMC experiment's AMC model checkpoint, after checking that its benchmark is this one.</summary>
    private string AmcCheckpoint(string amcDir)
    {
        var stagePath = Path.Combine(amcDir, "runs", AmcRunName, "stage.json");
        var stage = ReadStage<AmcExperimentRow>(stagePath) ?? throw new GroundSharpException($"--amc: {stagePath} not found (run 'groundsharp experiment amc' first)");
        if (!File.Exists(stage.Checkpoint)) throw new GroundSharpException($"--amc: the checkpoint {stage.Checkpoint} named in {stagePath} is missing");
        var marker = Path.Combine(amcDir, "data", "synth.json");
        if (!File.Exists(marker) || !AmcExperiment.SameData(marker, options.Data with { Seed = options.Seed }))
            throw new GroundSharpException($"--amc: {amcDir} was run on another benchmark (seed or split sizes differ from this run's); pass the same --seed (and --quick) to both");
        return stage.Checkpoint;
    }

    private RecExperimentRow AmcBoxSelection(string amcDir, YoloV3 detector, Dictionary<string, List<GroundingEvalItem>> items)
    {
        var checkpoint = AmcCheckpoint(amcDir);
        var stagePath = Path.Combine(options.OutDir, "runs", AmcRowName, "stage.json");
        if (ReadStage<RecExperimentRow>(stagePath) is { } cached && cached.Checkpoint == checkpoint) { log($"{AmcRowName}: reusing {stagePath}"); return cached; }
        Directory.CreateDirectory(Path.GetDirectoryName(stagePath)!);
        var proposals = RecGroundingEval.Proposals(detector, items.Values.SelectMany(l => l).Select(i => i.ImagePath).Distinct().ToList(), options.Model.TopK);
        var loaded = AlbefLoader.Load(checkpoint);
        using var model = loaded.Model;
        var evaluator = new GroundingEvaluator(new Grounder(model, AlbefTokenizer.Default),
            new EvalOptions { UseProposals = true, RecallKs = new[] { 1, 5, options.Model.TopK }.Where(k => k <= options.Model.TopK).Distinct().ToArray() });
        var splits = new Dictionary<string, EvalReport>();
        foreach (var (split, list) in items)
        {
            if (list.Count == 0) continue;
            var withProposals = list.Select(i => i with { Proposals = proposals[i.ImagePath] }).ToList();
            var report = TransientNativeError.Retry($"{AmcRowName} / {split}", () => evaluator.Run(withProposals, "synth", split, AmcRowName), log);
            splits[split] = report;
            log($"{AmcRowName} / {split}: IoU@0.5 {Percent(Accuracy(report))}");
        }
        var row = new RecExperimentRow(AmcRowName, "AMC (GradCAM box selection over the detector's proposals)", checkpoint, splits);
        WriteJson(stagePath, row);
        return row;
    }

    private void WriteResults(RecDetectorStage detector, IReadOnlyList<RecExperimentRow> rows, TimeSpan elapsed)
    {
        WriteJson(Path.Combine(options.OutDir, ResultsFile), new { options = Describe(), detector, rows, native_error_redos = TransientNativeError.Redone });
        var md = Path.Combine(options.OutDir, "results.md");
        AtomicFile.WriteAllText(md, ToMarkdown(detector, rows, elapsed));
    }

    private object Describe() => new
    {
        seed = options.Seed,
        data = new { boxes = options.Data.Boxes, val = options.Data.Val, test = options.Data.Test, test_compositional = options.Data.TestCompositional },
        detector = new { size = options.DetectorSize, input_size = options.InputSize, steps = options.DetectorSteps, batch_size = options.DetectorBatchSize, lr = options.DetectorLr },
        model = JsonDocument.Parse(RecJson.Serialize(options.Model)).RootElement,
        rec = new { images = options.RecImages, data_seed = options.RecImages > 0 ? options.RecDataSeed : options.Seed, epochs = options.RecEpochs, batch_size = options.RecBatchSize, lr = options.RecLr },
        eval_limit = options.EvalLimit,
        amc = options.AmcDir,
    };

    /// <summary>IoU@0.5 accuracy of a report (R@1 of its box ranking).</summary>
    public static double? Accuracy(EvalReport report) => report.RecallAtK?.GetValueOrDefault("R@1")?.Overall.Accuracy;

    /// <summary>The results table: IoU@0.5 per split, the detector ceiling, then per phrase type on the test split.</summary>
    public static string ToMarkdown(RecDetectorStage detector, IReadOnlyList<RecExperimentRow> rows, TimeSpan? elapsed = null)
    {
        var sb = new StringBuilder();
        var splits = SynthSplits.Evaluation;
        sb.AppendLine("IoU@0.5 accuracy (%) on the synthetic benchmark (REC: the anchor most similar to the phrase; AMC: the proposal its GradCAM map selects):").AppendLine();
        sb.AppendLine("| model | " + string.Join(" | ", splits) + " | s/epoch |").AppendLine("|---|" + string.Concat(splits.Select(_ => "---|")) + "---|");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Description} | " + string.Join(" | ", splits.Select(s => r.Splits.TryGetValue(s, out var e) ? Percent(Accuracy(e)) : "–"))
                + " | " + (r.Epochs > 0 ? r.SecondsPerEpoch.ToString("F1", CultureInfo.InvariantCulture) : "–") + " |");
        if (rows.FirstOrDefault(r => r.Splits.Count > 0 && r.Name != AmcRowName) is { } any)
        {
            var ceilingKey = any.Splits.Values.First().RecallAtK!.Keys.Last();
            sb.AppendLine("| detector ceiling: any of the REC anchors at IoU ≥ 0.5 | " + string.Join(" | ", splits.Select(s =>
                any.Splits.TryGetValue(s, out var e) ? Percent(e.RecallAtK![ceilingKey].Overall.Accuracy) : "–")) + " | |");
        }
        sb.AppendLine().AppendLine("Pair accuracy (%): pairs of phrases of one image naming different objects where both points (REC: the chosen box's centre; AMC: its GradCAM point) are in their own box:").AppendLine();
        sb.AppendLine("| model | " + string.Join(" | ", splits) + " |").AppendLine("|---|" + string.Concat(splits.Select(_ => "---|")));
        foreach (var r in rows)
            sb.AppendLine($"| {r.Description} | " + string.Join(" | ", splits.Select(s => r.Splits.TryGetValue(s, out var e) && e.Pairs is { } p ? Percent(p.Accuracy) : "–")) + " |");
        var types = new[] { "attribute", "spatial", "relational" };
        sb.AppendLine().AppendLine("By phrase type, test split (IoU@0.5 %, phrases):").AppendLine();
        sb.AppendLine("| model | " + string.Join(" | ", types) + " |").AppendLine("|---|" + string.Concat(types.Select(_ => "---|")));
        foreach (var r in rows)
        {
            if (!r.Splits.TryGetValue(SynthSplits.Test, out var test) || test.RecallAtK?.GetValueOrDefault("R@1") is not { } r1) continue;
            sb.AppendLine($"| {r.Name} | " + string.Join(" | ", types.Select(t => r1.Categories.FirstOrDefault(c => c.Name == t) is { } c ? $"{Percent(c.Accuracy)} ({c.Total})" : "–")) + " |");
        }
        sb.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Detector: {detector.Steps} steps ({(double)detector.Steps / detector.StepsPerEpoch:F1} epochs) in {detector.Seconds / 60:F1} min, {detector.SecondsPerStep:F2} s/step, {detector.SecondsPerStep * detector.StepsPerEpoch:F0} s/epoch."));
        if (elapsed is { } e) sb.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture, $"Wall time: {e.TotalMinutes:F1} min."));
        return sb.ToString();
    }

    private static T? ReadStage<T>(string path) where T : class
    {
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<T>(File.ReadAllText(path), EvalReport.Json); }
        catch (JsonException) { return null; } // a stage file from an older layout: redo the stage
    }

    private static void WriteJson(string path, object value) => AtomicFile.WriteJson(path, value, EvalReport.Json);

    private static string Percent(double? a) => a is { } v ? (100 * v).ToString("F1", CultureInfo.InvariantCulture) : "–";
}
