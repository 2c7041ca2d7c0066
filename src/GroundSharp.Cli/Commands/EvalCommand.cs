using GroundSharp.IO;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Eval;
using GroundSharp.Experiments;
using GroundSharp.Rec;
using GroundSharp.Explain;
using GroundSharp.Models;
using TorchSharp;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp eval</c>: pointing accuracy (and box selection with proposals) of GradCAM grounding over a dataset.</summary>
public static class EvalCommand
{
    public static Command Build()
    {
        var data = new Option<string>("--data") { Description = "dataset folder or a GroundingSample .jsonl file", Required = true };
        var split = new Option<string>("--split") { Description = "split to evaluate (e.g. val, test, test-compositional)", Required = true };
        var format = new Option<string?>("--format") { Description = "flickr30k | refcoco | synth | jsonl (default: detected from --data)" };
        var imageRoot = new Option<string?>("--image-root") { Description = "folder of the images (flickr30k: default DIR/flickr30k-images; refcoco: default DIR/images)" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "model checkpoint (.pth or .safetensors)" };
        var config = new Option<string?>("--config") { Description = "model config JSON" };
        var vocab = new Option<string?>("--vocab") { Description = "BERT vocab.txt (default: bundled bert-base-uncased)" };
        var proposals = new Option<bool>("--proposals") { Description = "also rank the items' detection proposals: Recall@1/5/10 and IoU@0.5 accuracy" };
        var shard = new Option<string>("--shard") { Description = "evaluate shard i of n (i/n, 0-based) — images are split between shards", DefaultValueFactory = _ => "0/1" };
        var output = new Option<string>("--out") { Description = "folder for the JSON report and markdown table", DefaultValueFactory = _ => "groundsharp-eval" };
        var layer = new Option<int?>("--layer") { Description = "GradCAM layer (default: the config's)" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var limit = new Option<int?>("--limit") { Description = "evaluate at most N phrases (a quick look)" };
        var savePredictions = new Option<bool>("--save-predictions") { Description = "also write predictions.jsonl: one line per phrase (image, phrase, point, box, score, ground truth, hit)" };
        var predictionMaps = new Option<bool>("--prediction-maps") { Description = "with --save-predictions: add each phrase's GradCAM grid map" };
        var method = new Option<string>("--method") { Description = "gradcam (ALBEF/AMC heatmaps) or rec (anchor-based REC checkpoint: IoU@0.5 of its chosen anchor box)", DefaultValueFactory = _ => "gradcam" };
        var cmd = new Command("eval", "Evaluate grounding on a dataset split: GradCAM (pointing game; box selection with --proposals) or REC (IoU@0.5).")
        {
            data, split, format, imageRoot, checkpoint, config, vocab, proposals, shard, output, layer, device, limit, savePredictions, predictionMaps, method,
        };
        cmd.SetAction(r => CliRunner.Run(() => r.GetValue(method) switch
        {
            "gradcam" => Execute(r.GetValue(data)!, r.GetValue(split)!, r.GetValue(format), r.GetValue(imageRoot), ModelsCommand.ResolveArgument(r.GetValue(checkpoint)),
                r.GetValue(config), r.GetValue(vocab), r.GetValue(proposals), r.GetValue(shard)!, r.GetValue(output)!, r.GetValue(layer),
                r.GetValue(device)!, r.GetValue(limit), r.GetValue(savePredictions), r.GetValue(predictionMaps)),
            "rec" => ExecuteRec(r.GetValue(data)!, r.GetValue(split)!, r.GetValue(format), r.GetValue(imageRoot), ModelsCommand.ResolveArgument(r.GetValue(checkpoint)),
                GradCamOnly(r.GetValue(config) is not null, r.GetValue(vocab) is not null, r.GetValue(proposals), r.GetValue(layer) is not null,
                    r.GetValue(savePredictions), r.GetValue(predictionMaps)),
                r.GetValue(shard)!, r.GetValue(output)!, r.GetValue(device)!, r.GetValue(limit)),
            var other => throw new GroundSharpException($"--method '{other}' is unknown (gradcam, rec)"),
        }));

        var mergeOut = new Option<string>("--out") { Description = "folder for the merged report", DefaultValueFactory = _ => "groundsharp-eval" };
        var reports = new Argument<string[]>("reports") { Description = "the shard reports (report.json) to combine", Arity = ArgumentArity.OneOrMore };
        var merge = new Command("merge", "Combine the reports of 'eval --shard i/n' runs into one.") { mergeOut, reports };
        merge.SetAction(r => CliRunner.Run(() => Merge(r.GetValue(reports)!, r.GetValue(mergeOut)!)));
        cmd.Subcommands.Add(merge);
        return cmd;
    }

    public static (int Index, int Count) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out var i) && int.TryParse(parts[1], out var n) && n >= 1 && i >= 0 && i < n) return (i, n);
        throw new GroundSharpException($"--shard '{text}': use i/n with 0 <= i < n, e.g. 0/4");
    }

    /// <summary>The dataset format of a path: an explicit --format, else detected.</summary>
    public static string DetectFormat(string data, string? format)
    {
        if (format is not null)
            return format is "jsonl" or "synth" or "flickr30k" or "refcoco" ? format : throw new GroundSharpException($"--format '{format}' is unknown (flickr30k, refcoco, synth, jsonl)");
        if (File.Exists(data) && data.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) return "jsonl";
        if (Directory.Exists(data) && File.Exists(Path.Combine(data, "synth.json"))) return "synth";
        if (Directory.Exists(Path.Combine(data, "Sentences")) && Directory.Exists(Path.Combine(data, "Annotations"))) return "flickr30k";
        if (File.Exists(Path.Combine(data, "refs.json"))) return "refcoco";
        if (!File.Exists(data) && !Directory.Exists(data)) throw new GroundSharpException($"--data not found: {data}");
        throw new GroundSharpException($"cannot tell the dataset format of {data}; pass --format");
    }

    public static IEnumerable<GroundingEvalItem> ReadItems(string data, string split, string format, string? imageRoot, bool proposals) => format switch
    {
        "flickr30k" => Flickr30kEntities.ReadItems(data, split, imageRoot),
        "refcoco" => ReadRefItems(data, split, imageRoot, proposals),
        "jsonl" => GroundingEvaluator.FromSampleFile(data, split),
        "synth" => File.Exists(Path.Combine(data, split + ".jsonl"))
            ? GroundingEvaluator.FromSampleFile(Path.Combine(data, split + ".jsonl"), split)
            : throw new GroundSharpException($"{data} has no split '{split}' ({split}.jsonl not found)"),
        _ => throw new GroundSharpException($"unknown format {format}"),
    };

    /// <summary>
    /// RefCOCO-family folder: refs.json, dets.json (proposals) and ALBEF's grounding files
    /// <c>*_val.json</c> / <c>*_test.json</c> (testA and testB live in the test file).
    /// </summary>
    private static IEnumerable<GroundingEvalItem> ReadRefItems(string dir, string split, string? imageRoot, bool proposals)
    {
        string suffix = split.StartsWith("test", StringComparison.Ordinal) ? "_test.json" : $"_{split}.json";
        var files = Directory.GetFiles(dir, "*" + suffix).Order(StringComparer.Ordinal).ToList();
        if (files.Count != 1)
            throw new GroundSharpException($"{dir}: expected one grounding file *{suffix} for split '{split}', found {files.Count}");
        var lookup = RefLookup.Read(Path.Combine(dir, "refs.json"));
        var dets = Path.Combine(dir, "dets.json");
        if (proposals && !File.Exists(dets)) throw new GroundSharpException($"--proposals: {dets} not found");
        var props = proposals ? RefGrounding.ReadProposals(dets) : null;
        return RefGrounding.ReadItems(files[0], lookup, imageRoot ?? Path.Combine(dir, "images"), split == "test" ? null : split, props);
    }

    public static int Execute(string data, string split, string? format, string? imageRoot, string? checkpoint, string? configPath, string? vocabPath,
        bool proposals, string shardText, string outDir, int? layer, string device, int? limit, bool savePredictions = false, bool predictionMaps = false)
    {
        if (predictionMaps && !savePredictions) throw new GroundSharpException("--prediction-maps: only with --save-predictions");
        CheckLimit(limit);
        var (shardIndex, shardCount) = ParseShard(shardText);
        var fmt = DetectFormat(data, format);
        var model = CliModels.Resolve(checkpoint, configPath, vocabPath, device);
        var grounder = new Grounder(model.Model, model.Tokenizer, new GrounderOptions { Layer = layer });
        var evaluator = new GroundingEvaluator(grounder, new EvalOptions
        {
            ShardIndex = shardIndex, ShardCount = shardCount, UseProposals = proposals, Limit = limit,
        });
        var items = ReadItems(data, split, fmt, imageRoot, proposals);
        // TorchSharp's transient Scalar error (docs/torchsharp-native.md): the evaluation is deterministic, so it is redone.
        var predictions = savePredictions ? new List<string>() : null;
        var report = TransientNativeError.Retry("the evaluation", () =>
        {
            predictions?.Clear(); // a redo starts the lines afresh
            return RunWithProgress(evaluator, items, $"{fmt}:{Path.GetFileName(Path.TrimEndingDirectorySeparator(data))}", split, model.Source,
                predictions is null ? null : (item, result, hit) => predictions.Add(PhrasePredictions.ToJsonLine(item, result, hit, predictionMaps)));
        }, Console.Error.WriteLine);
        string name = shardCount > 1 ? $"report-shard{shardIndex}of{shardCount}" : "report";
        Write(report, outDir, name);
        if (predictions is not null) WritePredictions(predictions, Path.Combine(outDir, PhrasePredictions.FileFor(name)));
        return 0;
    }

    // Checked before the data is read, so that a bad limit is not reported as an empty dataset.
    private static void CheckLimit(int? limit)
    {
        if (limit is < 1) throw new GroundSharpException($"--limit {limit}: must be at least 1 (leave it out to evaluate everything)");
    }

    /// <summary>The GradCAM-only options given, to refuse them with --method rec (null when none was given).</summary>
    private static string? GradCamOnly(bool config, bool vocab, bool proposals, bool layer, bool savePredictions, bool predictionMaps)
    {
        var given = new[] { (config, "--config"), (vocab, "--vocab"), (proposals, "--proposals"), (layer, "--layer"), (savePredictions, "--save-predictions"), (predictionMaps, "--prediction-maps") }
            .Where(x => x.Item1).Select(x => x.Item2).ToList();
        return given.Count == 0 ? null : string.Join(", ", given);
    }

    /// <summary>
    /// <c>eval --method rec</c>: a REC checkpoint (<see cref="RecModel.Save"/>, detector included) on a split. The
    /// report has the GradCAM eval's shape: R@1 is the IoU@0.5 accuracy, R@k ranks the anchors by similarity, the
    /// last R@k (k = top-k anchors) is the detector's ceiling, and "pointing" uses the chosen box's centre.
    /// </summary>
    public static int ExecuteRec(string data, string split, string? format, string? imageRoot, string? checkpoint, string? gradCamOptions,
        string shardText, string outDir, string device, int? limit)
    {
        if (gradCamOptions is not null) throw new GroundSharpException($"{gradCamOptions}: only for --method gradcam (a REC checkpoint holds its config, vocabulary and detector, and ranks its own anchors)");
        CheckLimit(limit);
        var (shardIndex, shardCount) = ParseShard(shardText);
        var fmt = DetectFormat(data, format);
        if (checkpoint is null) throw new GroundSharpException("--checkpoint is required: a REC checkpoint (rec.safetensors from 'groundsharp experiment rec')");
        CheckpointPath.RequireFile(checkpoint, "--checkpoint");
        using var model = RecModel.Load(checkpoint);
        if (device != "cpu") model.to(TorchSharp.torch.device(device));
        var items = GroundingEvaluator.GroupByImage(ReadItems(data, split, fmt, imageRoot, proposals: false))
            .Where((_, imageIndex) => imageIndex % shardCount == shardIndex).SelectMany(g => g);
        var list = (limit is { } l ? items.Take(l) : items).ToList();
        if (list.Count == 0 && shardCount == 1) throw new GroundSharpException($"no items to evaluate in {data} split '{split}'");
        var sw = Stopwatch.StartNew();
        // An empty shard (more array tasks than images) writes an empty report that merges to nothing.
        using var images = list.Count == 0 ? null : EncodedImages.Encode(model, list.Select(i => i.ImagePath).Distinct().ToList());
        if (images is not null) Console.Error.WriteLine($"encoded {images.Paths.Count} images with the frozen detector in {sw.Elapsed.TotalSeconds:F1} s");
        var report = TransientNativeError.Retry("the evaluation", () => RecGroundingEval.Run(model, images, list, $"{fmt}:{Path.GetFileName(Path.TrimEndingDirectorySeparator(data))}", split, checkpoint,
            progress: (n, total) => Console.Error.WriteLine($"{n}/{total} phrases")), Console.Error.WriteLine);
        Write(report with { Shard = $"{shardIndex}/{shardCount}", Seconds = sw.Elapsed.TotalSeconds }, outDir, shardCount > 1 ? $"report-shard{shardIndex}of{shardCount}" : "report");
        return 0;
    }

    private static EvalReport RunWithProgress(GroundingEvaluator evaluator, IEnumerable<GroundingEvalItem> items, string dataset, string split, string model,
        Action<GroundingEvalItem, GroundingResult, bool>? prediction)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var sw = Stopwatch.StartNew();
            var last = TimeSpan.Zero;
            return evaluator.Run(items, dataset, split, model, (n, imgs) =>
            {
                if (sw.Elapsed - last < TimeSpan.FromSeconds(10)) return;
                last = sw.Elapsed;
                Console.Error.WriteLine($"{n} phrases, {imgs} images, {n / sw.Elapsed.TotalSeconds:F1} phrases/s");
            }, prediction);
        }
        EvalReport? report = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new SpinnerColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("evaluating", maxValue: double.MaxValue);
                var sw = Stopwatch.StartNew();
                report = evaluator.Run(items, dataset, split, model, (n, imgs) =>
                    task.Description = $"{n} phrases, {imgs} images, {n / sw.Elapsed.TotalSeconds:F1} phrases/s", prediction);
            });
        return report!;
    }

    public static int Merge(IReadOnlyList<string> reportPaths, string outDir)
    {
        var shards = new List<EvalReport>();
        foreach (var p in reportPaths)
        {
            if (!File.Exists(p)) throw new GroundSharpException($"report not found: {p}");
            try { shards.Add(JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(p), EvalReport.Json) ?? throw new GroundSharpException($"{p}: empty report")); }
            catch (JsonException e) { throw new GroundSharpException($"{p}: not an eval report: {ValueDescriptions.Of(e)}", e); }
        }
        // The shards' predictions (written next to their reports by --save-predictions) are concatenated in the reports' order.
        var predictionFiles = reportPaths.Select(p => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(p))!, PhrasePredictions.FileFor(Path.GetFileNameWithoutExtension(p)))).ToList();
        int withPredictions = predictionFiles.Count(File.Exists);
        if (withPredictions > 0 && withPredictions < predictionFiles.Count)
            throw new GroundSharpException($"{predictionFiles.First(f => !File.Exists(f))} not found: some shards were run with --save-predictions and some without");
        Write(EvalReport.Merge(shards), outDir, "report");
        if (withPredictions > 0)
            WritePredictions(predictionFiles.SelectMany(f => File.ReadLines(f).Where(l => l.Length > 0)).ToList(), Path.Combine(outDir, PhrasePredictions.FileFor("report")));
        return 0;
    }

    private static void WritePredictions(IReadOnlyList<string> lines, string path)
    {
        AtomicFile.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        AnsiConsole.MarkupLine($"wrote [bold]{CliRunner.Esc(path)}[/] ({lines.Count} predictions)");
    }

    private static void Write(EvalReport report, string outDir, string name)
    {
        Directory.CreateDirectory(outDir);
        var json = Path.Combine(outDir, name + ".json");
        AtomicFile.WriteJson(json, report, EvalReport.Json);
        var md = Path.Combine(outDir, name + ".md");
        AtomicFile.WriteAllText(md, report.ToMarkdown());
        AnsiConsole.WriteLine(report.ToMarkdown());
        if (report.AllUnknownWarning is { } unknown) Console.Error.WriteLine("warning: " + unknown);
        AnsiConsole.MarkupLine($"wrote [bold]{CliRunner.Esc(json)}[/] and {CliRunner.Esc(md)} ({report.Items} phrases in {report.Seconds:F1} s)");
    }
}
