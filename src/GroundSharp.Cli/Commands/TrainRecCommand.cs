using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Eval;
using GroundSharp.Experiments;
using GroundSharp.IO;
using GroundSharp.Rec;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp train-rec</c>: the weakly supervised REC method on a user's data — a frozen detector (the paper's
/// COCO YOLOv3 from Darknet's <c>.weights</c>, or a GroundSharp detector) encodes every image once into an on-disk
/// cache, then the REC model trains from image–expression pairs only (boxes, where the data has them, are used for
/// evaluation alone), with a checkpoint per epoch, an exact <c>--resume</c> and <c>metrics.jsonl</c>.
/// </summary>
public static class TrainRecCommand
{
    public static Command Build()
    {
        var data = new Option<string>("--data") { Description = "dataset: a RefCOCO/RefCOCO+/RefCOCOg/ReferIt folder (refs.json + grounding files), a synthetic benchmark, Flickr30k Entities or a JSON-lines file", Required = true };
        var format = new Option<string?>("--format") { Description = "refcoco (also RefCOCO+/g and ReferIt/RefCLEF in the same layout), referit, flickr30k, synth or jsonl (default: detected)" };
        var split = new Option<string?>("--split") { Description = "split whose image–expression pairs train the model (default: train; boxes for a synthetic benchmark)" };
        var evalSplit = new Option<string?>("--eval-split") { Description = "split evaluated (IoU@0.5) after training (default: val when the data has it; 'none' to skip)" };
        var imageRoot = new Option<string?>("--image-root") { Description = "folder the data's image paths are under (RefCOCO: default DATA/images)" };
        var detector = new Option<string>("--detector") { Description = "frozen detector: Darknet .weights (the COCO yolov3.weights, as the paper) or a GroundSharp detector .safetensors", Required = true };
        var detectorConfig = new Option<string?>("--detector-config") { Description = "detector config JSON for a .weights file: classes, input size, anchors, depths (default: yolov3.cfg — 80 COCO classes, 416 px, COCO anchors)" };
        var config = new Option<string?>("--config") { Description = "REC model config JSON (snake_case keys of RecConfig; default: the paper's sizes — 512-wide fusion, CMA and embeddings, top-16 anchors, query conditioning)" };
        var output = new Option<string>("--out") { Description = "run folder: checkpoints/, metrics.jsonl, rec.safetensors, the image cache", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "passes over the expressions", DefaultValueFactory = _ => 25 };
        var batchSize = new Option<int>("--batch-size") { Description = "expressions per step (no image twice in a batch; the paper: 64)", DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => 2e-4 };
        var seed = new Option<int>("--seed") { Description = "seed of the initialisation, dropout and batch order", DefaultValueFactory = _ => 1 };
        var glove = new Option<string?>("--glove") { Description = "GloVe text file to initialise the word embeddings (word_dim must match its vectors)" };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its latest checkpoint (same settings), bitwise as if never stopped" };
        var cmd = new Command("train-rec", "Train the weakly supervised REC model (ACCV 2024) on image–expression pairs with a frozen YOLOv3; boxes are used only to evaluate.")
        {
            data, format, split, evalSplit, imageRoot, detector, detectorConfig, config, output, epochs, batchSize, lr, seed, glove, resume,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(new TrainRecArgs(r.GetValue(data)!, r.GetValue(format), r.GetValue(split), r.GetValue(evalSplit),
            r.GetValue(imageRoot), ModelsCommand.ResolveArgument(r.GetValue(detector))!, r.GetValue(detectorConfig), r.GetValue(config), r.GetValue(output)!, r.GetValue(epochs),
            r.GetValue(batchSize), r.GetValue(lr), r.GetValue(seed), r.GetValue(glove), r.GetValue(resume)))));
        return cmd;
    }

    public sealed record TrainRecArgs(string Data, string? Format, string? Split, string? EvalSplit, string? ImageRoot, string Detector, string? DetectorConfig,
        string? Config, string Out, int Epochs, int BatchSize, double Lr, int Seed, string? Glove, bool Resume);

    public static int Execute(TrainRecArgs a)
    {
        if (a.Epochs < 1) throw new GroundSharpException("--epochs must be at least 1");
        if (a.BatchSize < 2) throw new GroundSharpException("--batch-size must be at least 2 (the loss contrasts the images of a batch)");
        if (!(a.Lr > 0) || !double.IsFinite(a.Lr)) throw new GroundSharpException("--lr must be > 0");
        string fmt = a.Format == "referit" ? "refcoco" : EvalCommand.DetectFormat(a.Data, a.Format);
        string split = a.Split ?? (fmt == "synth" ? "boxes" : "train");
        CheckpointPath.RequireFile(a.Detector, "--detector");
        if (a.Config is not null) CheckpointPath.RequireFile(a.Config, "--config");
        string checkpoints = Path.Combine(a.Out, "checkpoints");
        var settingsPath = Path.Combine(a.Out, "settings.json");
        var settings = JsonSerializer.Serialize(new
        {
            data = Path.GetFullPath(a.Data), format = fmt, split, detector = Path.GetFullPath(a.Detector), detector_config = a.DetectorConfig, config = a.Config,
            epochs = a.Epochs, batch_size = a.BatchSize, lr = a.Lr, seed = a.Seed, glove = a.Glove,
        }, new JsonSerializerOptions { WriteIndented = true });
        bool hasRun = RecTrainer.LatestCheckpoint(checkpoints) is not null;
        if (hasRun && !a.Resume) throw new GroundSharpException($"{a.Out} already holds a run (checkpoints/); pass --resume to continue it or choose another --out");
        if (a.Resume && File.Exists(settingsPath) && File.ReadAllText(settingsPath) != settings)
            throw new GroundSharpException($"--resume: {settingsPath} records other settings than these; resume with the run's own arguments");
        if (a.Resume && !hasRun) Console.Error.WriteLine($"--resume: no checkpoint in {checkpoints} yet; starting the run");

        // Image–expression pairs only: the split's texts and images; its boxes are never read for training.
        var samples = EvalCommand.ReadItems(a.Data, split, fmt, a.ImageRoot, proposals: false).Select(i => (i.ImagePath, i.Text)).ToList();
        var paths = samples.Select(s => s.ImagePath).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (paths.Count < 2) throw new GroundSharpException($"{a.Data} split '{split}' has {paths.Count} image(s); REC training contrasts images and needs at least 2");
        foreach (var p in paths)
            if (!File.Exists(p)) throw new GroundSharpException($"image {p} of split '{split}' not found (set --image-root to the folder the data's image paths are under)");
        var evalItems = EvalItems(a, fmt, split);

        Directory.CreateDirectory(a.Out);
        AtomicFile.WriteAllText(settingsPath, settings);
        using var frozen = YoloV3.LoadAny(a.Detector, a.DetectorConfig);
        var recConfig = a.Config is null ? new RecConfig() : RecConfig.Load(a.Config);
        TorchSharp.torch.random.manual_seed(a.Seed);
        using var model = new RecModel(recConfig, RecVocabulary.Build(samples.Select(s => s.Text)), frozen, a.Seed);
        if (a.Glove is not null)
        {
            var coverage = GloveEmbeddings.LoadInto(model.language.embedding, model.Vocabulary, a.Glove);
            Console.Error.WriteLine($"GloVe: {coverage.Found}/{coverage.VocabularyWords} words ({100 * coverage.Fraction:F1} %) from {a.Glove}");
        }

        var clock = Stopwatch.StartNew();
        string cacheDir = Path.Combine(a.Out, "cache");
        using var images = EncodedImages.Cached(model, paths, cacheDir, progress: Progress("caching", clock));
        Console.Error.WriteLine($"{paths.Count} images encoded by the frozen detector (cache: {cacheDir}) in {clock.Elapsed.TotalSeconds:F1} s");
        var expressions = samples.Select(s => new RecExpression(images.Row(s.ImagePath), s.Text)).ToList();
        var options = new RecTrainingOptions { Epochs = a.Epochs, BatchSize = a.BatchSize, LearningRate = a.Lr, Seed = a.Seed, CheckpointDir = checkpoints, Resume = a.Resume };

        var metricsPath = Path.Combine(a.Out, "metrics.jsonl");
        int resumedStep = RecTrainer.LatestCheckpoint(checkpoints) is { } latest && a.Resume ? RecTrainer.StepOf(latest) : 0;
        KeepMetricsBefore(metricsPath, resumedStep);
        using (var metrics = new StreamWriter(metricsPath, append: true))
        {
            clock.Restart();
            int done = 0;
            RecTrainer.Train(model, new RecTrainingData(images.Visual, expressions), options, step =>
            {
                done++;
                metrics.WriteLine(JsonSerializer.Serialize(new
                {
                    step = step.Step + 1, epoch = step.Epoch + 1, loss = step.Loss, contrastive = step.Contrastive, regularisation = step.Regularisation,
                    false_negative_suppression = step.FalseNegativeSuppression, lambda = step.Lambda, lambda_prime = step.LambdaPrime,
                }));
                metrics.Flush();
                if (step.EndOfEpoch || done == 1 || done % 50 == 0)
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"epoch {step.Epoch + 1}/{a.Epochs} step {step.Step + 1} loss {step.Loss:F3} con {step.Contrastive:F3} reg {step.Regularisation:F3} fns {step.FalseNegativeSuppression:F3} | {done / clock.Elapsed.TotalSeconds:F1} steps/s"));
            }, message => Console.Error.WriteLine(message));
        }
        var final = Path.Combine(a.Out, "rec.safetensors");
        model.Save(final);
        Console.WriteLine($"wrote {final} ({expressions.Count} expressions of {paths.Count} images, {a.Epochs} epochs); metrics: {metricsPath}");

        if (evalItems is { Count: > 0 } items)
        {
            using var evalImages = EncodedImages.Cached(model, items.Select(i => i.ImagePath).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), cacheDir);
            var report = RecGroundingEval.Run(model, evalImages, items, $"{fmt}:{Path.GetFileName(Path.TrimEndingDirectorySeparator(a.Data))}", items[0].Split, final);
            AtomicFile.WriteJson(Path.Combine(a.Out, "eval.json"), report, EvalReport.Json);
            AtomicFile.WriteAllText(Path.Combine(a.Out, "eval.md"), report.ToMarkdown());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{items[0].Split}: IoU@0.5 {100 * RecExperiment.Accuracy(report):F1} % of {report.Items} expressions (detector ceiling {100 * report.RecallAtK!.Values.Last().Overall.Accuracy:F1} %); {Path.Combine(a.Out, "eval.md")}"));
        }
        return 0;
    }

    /// <summary>The evaluation split's items (with boxes), or null when there is none or it was switched off.</summary>
    private static List<GroundingEvalItem>? EvalItems(TrainRecArgs a, string fmt, string trainSplit)
    {
        if (a.EvalSplit == "none") return null;
        string evalSplit = a.EvalSplit ?? "val";
        if (evalSplit == trainSplit) throw new GroundSharpException($"--eval-split '{evalSplit}' is the training split");
        try { return EvalCommand.ReadItems(a.Data, evalSplit, fmt, a.ImageRoot, proposals: false).ToList(); }
        catch (GroundSharpException) when (a.EvalSplit is null) { return null; } // no val split: nothing to evaluate by default
    }

    /// <summary>On resume, drops metric lines of steps after the checkpoint (they are about to be redone); a fresh run starts an empty file.</summary>
    private static void KeepMetricsBefore(string path, int step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(l => l.Length > 0 && step > 0 && JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32() <= step).ToList();
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    private static Action<int, int> Progress(string what, Stopwatch clock)
    {
        var last = TimeSpan.Zero;
        return (n, total) =>
        {
            if (n < total && clock.Elapsed - last < TimeSpan.FromSeconds(5)) return;
            last = clock.Elapsed;
            Console.Error.WriteLine($"{what}: {n}/{total} images, {n / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} images/s");
        };
    }
}
