using GroundSharp.IO;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Losses;
using GroundSharp.Models;
using GroundSharp.Training;
using SkiaSharp;

namespace GroundSharp.Experiments;

/// <summary>Knobs of <see cref="AmcExperiment"/>; the defaults are the documented run (docs/experiment-amc.md).</summary>
public sealed record AmcExperimentOptions
{
    public required string OutDir { get; init; }
    public int Seed { get; init; } = 1;
    public SynthBenchmarkOptions Data { get; init; } = new() { Seed = 1, Pretrain = 6000, Boxes = 600, Val = 100, Test = 100, TestCompositional = 100 };
    public AlbefConfig Model { get; init; } = SmallModel;
    public int BatchSize { get; init; } = 24;
    /// <summary>
    /// Steps of the unimodal stage (0 = none): the visual encoder alone on the caption images' image-level tags, as
    /// ALBEF's ViT starts from DeiT (ImageNet labels, no boxes). From scratch it is what gives the patches object features.
    /// </summary>
    public int TagSteps { get; init; } = 1500;
    public int TagBatchSize { get; init; } = 48;
    public double TagLr { get; init; } = 1e-3;
    /// <summary>Region phrases of the box split, without their boxes, as further captions of their images (as ALBEF-14M holds Visual Genome's).</summary>
    public bool RegionPhrasesInPretraining { get; init; } = true;
    /// <summary>TrainConfig.FilterFalseNegatives in every image–text stage: a text true of an image is not its negative.</summary>
    public bool FilterFalseNegatives { get; init; } = true;
    /// <summary>ITC-only steps before the full pre-training (0 = none): from scratch, ITC must leave chance first (docs/experiment-amc.md).</summary>
    public int ItcWarmupSteps { get; init; } = 600;
    public int PretrainSteps { get; init; } = 1200;
    /// <summary>Share of ITM negatives drawn at random instead of by similarity (TrainConfig.ItmRandomNegatives).</summary>
    public double ItmRandomNegatives { get; init; } = 0.5;
    /// <summary>Share of items with a word-swapped ITM negative text in every stage with ITM (TrainConfig.ItmSwapNegatives; 0 = none).</summary>
    public double ItmSwapNegatives { get; init; }
    /// <summary>
    /// Texts per caption image of the tag_itm objective in the ITC warm-up and the pre-training (TrainConfig.TagItmTexts;
    /// 0 = off): ITM on the image's own tags against tags it lacks (<see cref="TagMatching"/>).
    /// </summary>
    public int TagItmTexts { get; init; } = 8;
    public double PretrainLr { get; init; } = 3e-4;
    public int FinetuneSteps { get; init; } = 600;
    public double FinetuneLr { get; init; } = 1e-4;
    /// <summary>Learning curves: the control and the AMC (L_mean + L_max) stage evaluated on val every this many steps (0 = none).</summary>
    public int CurveEvery { get; init; } = 100;
    /// <summary>Evaluate at most this many phrases per split (null = all).</summary>
    public int? EvalLimit { get; init; }
    /// <summary>The AMC variants to fine-tune (the paper's Table 6 rows); a control without AMC always runs.</summary>
    public IReadOnlyList<AmcVariant> Variants { get; init; } = new[] { AmcVariant.MeanAndMax, AmcVariant.MeanOnly, AmcVariant.MaxOnly, AmcVariant.CosineDistance };

    /// <summary>
    /// A small ALBEF for CPU runs: 128 px images (8×8 patch grid), ViT 4×128 with a convolutional patch stem, BERT 4×128
    /// with fusion from layer 2 whose cross-attention reads the patches only, ITM on the mean fused text token, GradCAM at
    /// layer 2 (chosen on val). Each departure from ALBEF's layout is measured in docs/experiment-amc.md ("Eighth session").
    /// </summary>
    public static AlbefConfig SmallModel => new()
    {
        PatchStem = PatchStem.Conv, FusionReadsImageCls = false, ItmReadsTextMean = true, CrossAttentionInitScale = 5, GradcamLayer = 2,
        ImageRes = 128, PatchSize = 16, VisionWidth = 128, VisionDepth = 4, VisionHeads = 4, EmbedDim = 64,
        // No feature queue and no momentum encoder: from scratch, a queue's stale features differ from the batch's by the
        // common drift of the still-collapsed encoders, and a slow momentum encoder gives targets from that collapsed
        // past; both keep ITC at chance (docs/experiment-amc.md, "Second session", findings 1 and 2).
        QueueSize = 0, Momentum = 0, Distill = false, MaxWords = 30,
        Bert = new BertConfig { HiddenSize = 128, NumHiddenLayers = 4, FusionLayer = 2, NumAttentionHeads = 4, IntermediateSize = 512, MaxPositionEmbeddings = 64, EncoderWidth = 128 },
    };

    /// <summary>Minutes instead of an hour: for a smoke test of the whole pipeline (numbers are not meaningful).</summary>
    public static AmcExperimentOptions Quick(string outDir, int seed = 1) => new()
    {
        OutDir = outDir, Seed = seed,
        Data = SynthBenchmarkOptions.Tiny(seed),
        Model = SmallModel with { ImageRes = 64, VisionDepth = 1, QueueSize = 64, Bert = SmallModel.Bert with { NumHiddenLayers = 3, FusionLayer = 1 } },
        BatchSize = 4, TagSteps = 2, TagBatchSize = 4, ItcWarmupSteps = 2, PretrainSteps = 3, FinetuneSteps = 2, CurveEvery = 2, EvalLimit = 6,
        Variants = new[] { AmcVariant.MeanAndMax, AmcVariant.CosineDistance },
    };
}

/// <summary>One point of a learning curve: val pointing and pair accuracy after <see cref="Step"/> fine-tuning steps.</summary>
public sealed record CurvePoint(int Step, double Pointing, double Pairs);

/// <summary>One row of the results: a model and its pointing accuracy per evaluation split.</summary>
public sealed record AmcExperimentRow(string Name, string Description, string Checkpoint, IReadOnlyDictionary<string, EvalReport> Splits);

/// <summary>
/// The AMC paper's story in miniature, on the synthetic benchmark, deterministic and on CPU: (a) pre-train a
/// small ALBEF from scratch with ITC+ITM+MLM on captions and evaluate its GradCAM pointing accuracy (the
/// baseline); (b) continue on the box split with AMC, for each loss variant, and — as a control — with the
/// same data and steps but without AMC; evaluate each. Stages already done (their results file exists) are reused.
/// </summary>
public sealed class AmcExperiment(AmcExperimentOptions options, ITrainingReporter reporter, Action<string> log)
{
    public const string ResultsFile = "results.json";

    public string DataDir => Path.Combine(options.OutDir, "data");

    public IReadOnlyList<AmcExperimentRow> Run()
    {
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(options.OutDir);
        PrepareData();
        var rows = new List<AmcExperimentRow>();

        string? init = null;
        if (options.TagSteps > 0)
            init = TrainStage("pretrain-tags", "visual encoder alone on image-level tags (unimodal, as DeiT on ImageNet labels)", new[] { "pretrain.jsonl" },
                options.TagSteps, options.TagLr, TagsOnly, amc: null, init: null, evaluate: false, batchSize: options.TagBatchSize).Checkpoint;
        var pretrainFiles = options.RegionPhrasesInPretraining ? new[] { "pretrain.jsonl", RegionPhraseFile } : new[] { "pretrain.jsonl" };
        string texts = options.RegionPhrasesInPretraining ? "captions and box-less region phrases" : "captions";
        bool tagItm = options.TagItmTexts > 0;
        string plusTagItm = tagItm ? " + tag ITM" : "";
        if (options.ItcWarmupSteps > 0)
            init = TrainStage("pretrain-itc", $"ITC{plusTagItm} warm-up on {texts}", pretrainFiles,
                options.ItcWarmupSteps, options.PretrainLr, ItcOnly with { TagItm = tagItm }, amc: null, init: init, evaluate: false).Checkpoint;
        var pretrain = TrainStage("pretrain", $"gALBEF baseline: ITC+ITM+MLM{plusTagItm} on {texts}, no box seen", pretrainFiles,
            options.PretrainSteps, options.PretrainLr, AllAlbef with { TagItm = tagItm }, amc: null, init: init);
        rows.Add(pretrain);
        rows.Add(TrainStage("finetune-control", "+ box split, ITC+ITM+MLM, no AMC (control)", new[] { "boxes.jsonl" },
            options.FinetuneSteps, options.FinetuneLr, AllAlbef, amc: null, init: pretrain.Checkpoint));
        foreach (var variant in options.Variants)
            rows.Add(TrainStage("finetune-" + VariantName(variant), $"+ box split, ITC+ITM+MLM + AMC ({Describe(variant)})", new[] { "boxes.jsonl" },
                options.FinetuneSteps, options.FinetuneLr, AllAlbef with { Amc = true }, amc: new AmcLossOptions { Variant = variant }, init: pretrain.Checkpoint));

        var curves = options.CurveEvery > 0
            ? rows.Where(r => r.Name is "finetune-control" or "finetune-mean-and-max").ToDictionary(r => r.Name, r => LearningCurve(r, rows[0]))
            : new Dictionary<string, IReadOnlyList<CurvePoint>>();
        WriteResults(rows, sw.Elapsed, curves);
        var amcRow = rows.FirstOrDefault(r => r.Name == "finetune-mean-and-max") ?? rows[^1];
        WriteFigure(rows[0], amcRow, Path.Combine(options.OutDir, "heatmaps-before-after.png"));
        ExportDefaultModel(amcRow, rows, sw.Elapsed);
        log($"done in {sw.Elapsed.TotalMinutes:F1} min: {Path.Combine(options.OutDir, "results.md")}");
        return rows;
    }

    /// <summary>The AMC model, in float16, with its provenance: what `groundsharp` ships as its default model.</summary>
    private void ExportDefaultModel(AmcExperimentRow row, IReadOnlyList<AmcExperimentRow> rows, TimeSpan elapsed)
    {
        var folder = Path.Combine(options.OutDir, DefaultModel.FolderName);
        var command = "groundsharp " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
        var provenance = new Dictionary<string, string>
        {
            ["groundsharp_commit"] = BuildInfo.Commit,
            ["command"] = command,
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["stage"] = row.Name,
        };
        var md = new StringBuilder();
        md.AppendLine("# The default model").AppendLine();
        md.AppendLine($"A small ALBEF ({options.Model.ImageRes} px, ViT {options.Model.VisionDepth}×{options.Model.VisionWidth}, BERT {options.Model.Bert.NumHiddenLayers}×{options.Model.Bert.HiddenSize}, bert-base-uncased vocabulary), ");
        md.AppendLine($"pre-trained from scratch on the synthetic benchmark's captions and fine-tuned with AMC ({row.Description}); float16 weights.").AppendLine();
        md.AppendLine($"- produced by: `{command}`");
        md.AppendLine($"- GroundSharp commit: `{BuildInfo.Commit}`, seed {options.Seed}, stage `{row.Name}`; the exporting invocation ran {elapsed.TotalMinutes:F0} min on {Environment.ProcessorCount} CPU cores (stages reused from an earlier invocation are not re-timed)");
        md.AppendLine($"- it grounds the synthetic benchmark's vocabulary (shapes, colours, sizes, textures, positions); other words were never trained").AppendLine();
        md.AppendLine(ToMarkdown(rows, reference: PhraseBlindReference()));
        var loaded = AlbefLoader.Load(row.Checkpoint);
        using (var model = loaded.Model) DefaultModel.Export(model, folder, provenance, md.ToString());
        log($"exported the AMC model to {folder}");
    }

    private void PrepareData()
    {
        WriteDataOnce(options.Data with { Seed = options.Seed }, DataDir, $"the synthetic benchmark (seed {options.Seed})", log);
        if (options.RegionPhrasesInPretraining && !File.Exists(Path.Combine(DataDir, RegionPhraseFile))) WriteRegionPhraseFile();
    }

    /// <summary>The benchmark's knobs as a stage records them (<see cref="StageSettings"/>).</summary>
    internal static object DataKnobs(SynthBenchmarkOptions data) => new
    {
        seed = data.Seed, width = data.Scenes.Width, height = data.Scenes.Height,
        splits = SynthSplits.All.ToDictionary(s => s, s => data.Count(s)),
    };

    /// <summary>Generates a benchmark folder unless it already holds the same data (its synth.json): experiments reuse their data.</summary>
    internal static void WriteDataOnce(SynthBenchmarkOptions data, string dir, string what, Action<string> log)
    {
        var marker = Path.Combine(dir, "synth.json");
        if (File.Exists(marker) && SameData(marker, data)) { log($"reusing {what} in {dir}"); return; }
        log($"generating {what} in {dir}");
        SynthBenchmark.Write(data, dir, m => log(m));
    }

    internal static bool SameData(string marker, SynthBenchmarkOptions data)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(marker));
        var root = doc.RootElement;
        if (!root.TryGetProperty("seed", out var s) || s.GetInt32() != data.Seed || !root.TryGetProperty("knobs", out var knobs)) return false;
        return SynthSplits.All.All(split => knobs.TryGetProperty(split, out var n) && n.GetInt32() == data.Count(split))
            && knobs.TryGetProperty("width", out var w) && w.GetInt32() == data.Scenes.Width
            && knobs.TryGetProperty("height", out var h) && h.GetInt32() == data.Scenes.Height;
    }

    /// <summary>The box split's region phrases with their boxes removed: further captions for the image–text pre-training.</summary>
    public const string RegionPhraseFile = "boxes-as-captions.jsonl";

    private void WriteRegionPhraseFile()
    {
        var lines = GroundingSampleFile.Read(Path.Combine(DataDir, "boxes.jsonl"))
            .Select(s => GroundingSampleFile.ToJsonLine(s with { Box = null, Source = "region phrase" }, relativeTo: DataDir) + "\n");
        AtomicFile.WriteAllText(Path.Combine(DataDir, RegionPhraseFile), string.Concat(lines));
    }

    private static readonly ObjectiveSwitches TagsOnly = new() { Itc = false, Itm = false, Mlm = false, Amc = false, Tags = true };
    private static readonly ObjectiveSwitches ItcOnly = new() { Itc = true, Itm = false, Mlm = false, Amc = false };
    private static readonly ObjectiveSwitches AllAlbef = new() { Amc = false };

    private AmcExperimentRow TrainStage(string name, string description, string[] files, int steps, double lr, ObjectiveSwitches objectives,
        AmcLossOptions? amc, string? init, bool evaluate = true, int? batchSize = null)
    {
        int batch = batchSize ?? options.BatchSize;
        bool filter = options.FilterFalseNegatives && (objectives.Itc || objectives.Itm);
        var dir = Path.Combine(options.OutDir, "runs", name);
        var resultPath = Path.Combine(dir, "stage.json");
        double swap = objectives.Itm ? options.ItmSwapNegatives : 0;
        var settings = JsonSerializer.SerializeToNode(new
        {
            data = DataKnobs(options.Data with { Seed = options.Seed }), files, steps, lr, batch_size = batch, seed = options.Seed,
            objectives, amc_variant = amc?.Variant.ToString(), itm_random_negatives = options.ItmRandomNegatives, filter_false_negatives = filter,
            eval_limit = options.EvalLimit,
            model = JsonDocument.Parse(options.Model.ToJson()).RootElement,
        }, EvalReport.Json)!.AsObject();
        // Recorded only when on, so that stages cached before the knob existed still match.
        if (swap > 0) settings["itm_swap_negatives"] = swap;
        if (objectives.TagItm) settings["tag_itm_texts"] = options.TagItmTexts;
        StageSettings.Check(dir, name, settings);
        if (File.Exists(resultPath))
        {
            var cached = JsonSerializer.Deserialize<AmcExperimentRow>(File.ReadAllText(resultPath), EvalReport.Json);
            if (cached is not null && File.Exists(cached.Checkpoint)) { log($"{name}: reusing {resultPath}"); return cached; }
        }
        log($"{name}: {description} — {steps} steps");
        var config = new TrainConfig
        {
            Model = options.Model,
            ModelSource = "experiment amc",
            DataFiles = files.Select(f => Path.Combine(DataDir, f)).ToList(),
            BatchSize = batch,
            MaxSteps = steps,
            Epochs = 1000,
            Lr = lr,
            MinLr = lr / 10,
            WarmupSteps = Math.Max(1, steps / 10),
            GradClip = 5.0,
            Seed = options.Seed,
            // Often enough that a retry after TorchSharp's transient Scalar error (Trainer.Run) loses little.
            CheckpointEvery = 50,
            LogEvery = 1,
            OutputDir = dir,
            Objectives = objectives,
            ItmRandomNegatives = options.ItmRandomNegatives,
            FilterFalseNegatives = filter,
            ItmSwapNegatives = swap,
            Amc = amc ?? new AmcLossOptions(),
            PrefetchBatches = 4,
        };
        if (objectives.TagItm) config = config with { TagItmTexts = options.TagItmTexts };
        var trainer = new Trainer(config, reporter);
        var checkpointDir = Path.Combine(dir, "checkpoints");
        bool resume = Directory.Exists(checkpointDir) && Directory.EnumerateDirectories(checkpointDir, "step-*").Any();
        var result = trainer.Run(resume ? new TrainStart { ResumeFrom = dir } : new TrainStart { InitCheckpoint = init });
        // A resumed run that had already finished writes no new checkpoint: take the latest one.
        var checkpoint = Path.Combine(result.LastCheckpoint ?? TrainingCheckpoint.Resolve(dir), TrainingCheckpoint.ModelFile);

        var splits = evaluate ? Evaluate(name, checkpoint) : new Dictionary<string, EvalReport>();
        var row = new AmcExperimentRow(name, description, checkpoint, splits);
        AtomicFile.WriteJson(resultPath, row, EvalReport.Json);
        return row;
    }

    /// <summary>A checkpoint's GradCAM pointing and pair accuracy on the given splits (default: all evaluation splits).</summary>
    private Dictionary<string, EvalReport> Evaluate(string name, string checkpoint, IReadOnlyList<string>? splitNames = null)
    {
        var loaded = AlbefLoader.Load(checkpoint);
        using var model = loaded.Model;
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        var evaluator = new GroundingEvaluator(grounder, new EvalOptions { Limit = options.EvalLimit });
        var splits = new Dictionary<string, EvalReport>();
        foreach (var split in splitNames ?? SynthSplits.Evaluation)
        {
            var items = GroundingEvaluator.FromSampleFile(Path.Combine(DataDir, split + ".jsonl"), split);
            var report = TransientNativeError.Retry($"{name} / {split}", () => evaluator.Run(items, "synth", split, name), log);
            splits[split] = report;
            log($"{name} / {split}: pointing {Percent(report.Pointing.Overall.Accuracy)} ({report.Pointing.Overall.Hits}/{report.Pointing.Overall.Total}), pairs {Percent(report.Pairs?.Accuracy)}");
        }
        return splits;
    }

    /// <summary>
    /// Val pointing and pair accuracy of a stage's checkpoints every <see cref="AmcExperimentOptions.CurveEvery"/> steps.
    /// Step 0 (the baseline) and the last step are the stages' own val reports, not evaluated again; the steps between
    /// are evaluated and cached in the stage folder.
    /// </summary>
    private IReadOnlyList<CurvePoint> LearningCurve(AmcExperimentRow stage, AmcExperimentRow baseline)
    {
        var dir = Path.Combine(options.OutDir, "runs", stage.Name);
        var cache = Path.Combine(dir, "curve.json");
        var points = File.Exists(cache) ? JsonSerializer.Deserialize<List<CurvePoint>>(File.ReadAllText(cache)) ?? new() : new List<CurvePoint>();
        static CurvePoint FromReport(int step, EvalReport r) => new(step, r.Pointing.Overall.Accuracy ?? 0, r.Pairs?.Accuracy ?? 0);
        points.RemoveAll(p => p.Step == 0 || p.Step == options.FinetuneSteps);
        if (baseline.Splits.TryGetValue(SynthSplits.Val, out var before)) points.Add(FromReport(0, before));
        if (stage.Splits.TryGetValue(SynthSplits.Val, out var after)) points.Add(FromReport(options.FinetuneSteps, after));
        for (int step = options.CurveEvery; step < options.FinetuneSteps; step += options.CurveEvery)
        {
            var checkpoint = Path.Combine(dir, "checkpoints", TrainingCheckpoint.FolderName(step), TrainingCheckpoint.ModelFile);
            if (points.Any(p => p.Step == step) || !File.Exists(checkpoint)) continue;
            points.Add(FromReport(step, Evaluate($"{stage.Name} curve, step {step}", checkpoint, new[] { SynthSplits.Val })[SynthSplits.Val]));
        }
        var ordered = points.OrderBy(p => p.Step).ToList();
        AtomicFile.WriteJson(cache, ordered, EvalReport.Json);
        return ordered;
    }

    private void WriteResults(IReadOnlyList<AmcExperimentRow> rows, TimeSpan elapsed, IReadOnlyDictionary<string, IReadOnlyList<CurvePoint>> curves)
    {
        var json = Path.Combine(options.OutDir, ResultsFile);
        AtomicFile.WriteJson(json, new { options = Describe(), rows, phrase_blind_reference = PhraseBlindReference(), learning_curves = curves, native_error_redos = TransientNativeError.Redone }, EvalReport.Json);
        var md = Path.Combine(options.OutDir, "results.md");
        AtomicFile.WriteAllText(md, ToMarkdown(rows, elapsed, PhraseBlindReference()) + CurvesMarkdown(curves));
    }

    /// <summary>The learning curves as a table: val pointing / pair accuracy per step, one column per stage.</summary>
    public static string CurvesMarkdown(IReadOnlyDictionary<string, IReadOnlyList<CurvePoint>> curves)
    {
        if (curves.Count == 0) return "";
        var sb = new StringBuilder().AppendLine().AppendLine("Learning curves, val split: pointing / pair accuracy (%) after N fine-tuning steps (0 = the baseline):").AppendLine();
        var names = curves.Keys.ToList();
        sb.AppendLine("| step | " + string.Join(" | ", names) + " |").AppendLine("|---|" + string.Concat(names.Select(_ => "---|")));
        foreach (int step in curves.Values.SelectMany(c => c.Select(p => p.Step)).Distinct().Order())
            sb.AppendLine($"| {step} | " + string.Join(" | ", names.Select(n => curves[n].FirstOrDefault(p => p.Step == step) is { } p ? $"{Percent(p.Pointing)} / {Percent(p.Pairs)}" : "–")) + " |");
        return sb.ToString();
    }

    private object Describe() => new
    {
        seed = options.Seed,
        data = new { pretrain = options.Data.Pretrain, boxes = options.Data.Boxes, val = options.Data.Val, test = options.Data.Test, test_compositional = options.Data.TestCompositional },
        model = JsonDocument.Parse(options.Model.ToJson()).RootElement,
        batch_size = options.BatchSize,
        itc_warmup = new { steps = options.ItcWarmupSteps, lr = options.PretrainLr },
        pretrain = new { steps = options.PretrainSteps, lr = options.PretrainLr },
        itm_random_negatives = options.ItmRandomNegatives,
        itm_swap_negatives = options.ItmSwapNegatives,
        tag_itm_texts = options.TagItmTexts,
        finetune = new { steps = options.FinetuneSteps, lr = options.FinetuneLr },
        eval_limit = options.EvalLimit,
    };

    /// <summary>Per evaluation split, <see cref="PointingGame.RandomAnnotatedObject"/> over the evaluated items.</summary>
    public IReadOnlyDictionary<string, double> PhraseBlindReference() => _reference ??= SynthSplits.Evaluation.ToDictionary(split => split, split =>
    {
        var items = GroundingEvaluator.FromSampleFile(Path.Combine(DataDir, split + ".jsonl"), split);
        if (options.EvalLimit is { } limit) items = items.Take(limit);
        return PointingGame.RandomAnnotatedObject(items.ToList());
    });

    private IReadOnlyDictionary<string, double>? _reference;

    /// <summary>The results table: pointing accuracy per split (and the phrase-blind reference), then per phrase type on the test split.</summary>
    public static string ToMarkdown(IReadOnlyList<AmcExperimentRow> rows, TimeSpan? elapsed = null, IReadOnlyDictionary<string, double>? reference = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("Pointing accuracy (%) of GradCAM grounding on the synthetic benchmark:").AppendLine();
        sb.AppendLine("| model | val | test | test-compositional |").AppendLine("|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Description} | " + string.Join(" | ", SynthSplits.Evaluation.Select(s => r.Splits.TryGetValue(s, out var e) ? Percent(e.Pointing.Overall.Accuracy) : "–")) + " |");
        if (reference is not null)
            sb.AppendLine("| *reference, phrase-blind: the centre of a random annotated object of the image* | "
                + string.Join(" | ", SynthSplits.Evaluation.Select(s => reference.TryGetValue(s, out var a) ? Percent(a) : "–")) + " |");
        sb.AppendLine().AppendLine("Pair accuracy (%): pairs of phrases of one image that name different objects, both hit (a phrase-blind model scores near 0):").AppendLine();
        sb.AppendLine("| model | val | test | test-compositional |").AppendLine("|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Description} | " + string.Join(" | ", SynthSplits.Evaluation.Select(s => r.Splits.TryGetValue(s, out var e) && e.Pairs is { } p ? $"{Percent(p.Accuracy)} ({p.Total})" : "–")) + " |");
        var types = new[] { "attribute", "spatial", "relational" };
        sb.AppendLine().AppendLine("By phrase type, test split:").AppendLine();
        sb.AppendLine("| model | " + string.Join(" | ", types) + " |").AppendLine("|---|" + string.Concat(types.Select(_ => "---|")));
        foreach (var r in rows)
        {
            if (!r.Splits.TryGetValue(SynthSplits.Test, out var test)) continue;
            sb.AppendLine($"| {r.Name} | " + string.Join(" | ", types.Select(t => test.Pointing.Categories.FirstOrDefault(c => c.Name == t) is { } c ? $"{Percent(c.Accuracy)} ({c.Total})" : "–")) + " |");
        }
        if (elapsed is { } e) sb.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture, $"Wall time of this invocation: {e.TotalMinutes:F1} min (stages finished earlier are reused, not re-timed)."));
        return sb.ToString();
    }

    /// <summary>Heatmaps of the same test phrases before (baseline) and after AMC, side by side.</summary>
    private void WriteFigure(AmcExperimentRow before, AmcExperimentRow after, string path)
    {
        var items = GroundingEvaluator.FromSampleFile(Path.Combine(DataDir, SynthSplits.Test + ".jsonl"), SynthSplits.Test)
            .GroupBy(i => i.ImagePath).Take(4).Select(g => g.First()).ToList();
        if (items.Count == 0) return;
        var columns = new[] { before, after };
        var tiles = new List<SKBitmap[]>();
        foreach (var row in columns)
        {
            var loaded = AlbefLoader.Load(row.Checkpoint);
            using var model = loaded.Model;
            var grounder = new Grounder(model, AlbefTokenizer.Default);
            tiles.Add(items.Select(it =>
            {
                var image = ImageLoader.Load(it.ImagePath);
                var result = grounder.Ground(image, new[] { it.Text })[0];
                return HeatmapOverlay.Render(image, result, label: it.Text);
            }).ToArray());
        }
        int tw = tiles[0][0].Width, th = tiles[0][0].Height, header = 24;
        using var canvasBitmap = new SKBitmap(tw * columns.Length, header + th * items.Count);
        using (var canvas = new SKCanvas(canvasBitmap))
        {
            canvas.Clear(SKColors.White);
            using var font = new SKFont(SKTypeface.Default, 14);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            for (int c = 0; c < columns.Length; c++)
            {
                canvas.DrawText(c == 0 ? "before: baseline" : "after: + AMC", c * tw + 6, 17, SKTextAlign.Left, font, paint);
                for (int r = 0; r < items.Count; r++) canvas.DrawBitmap(tiles[c][r], c * tw, header + r * th);
            }
        }
        HeatmapOverlay.SavePng(canvasBitmap, path);
        foreach (var t in tiles.SelectMany(x => x)) t.Dispose();
    }

    public static string VariantName(AmcVariant v) => v switch
    {
        AmcVariant.MeanAndMax => "mean-and-max",
        AmcVariant.MeanOnly => "mean-only",
        AmcVariant.MaxOnly => "max-only",
        AmcVariant.CosineDistance => "cosine",
        _ => v.ToString(),
    };

    private static string Describe(AmcVariant v) => v switch
    {
        AmcVariant.MeanAndMax => "L_mean + L_max",
        AmcVariant.MeanOnly => "L_mean only",
        AmcVariant.MaxOnly => "L_max only",
        AmcVariant.CosineDistance => "cosine distance",
        _ => v.ToString(),
    };

    private static string Percent(double? a) => a is { } v ? (100 * v).ToString("F1", CultureInfo.InvariantCulture) : "–";
}
