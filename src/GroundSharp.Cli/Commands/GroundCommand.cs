using GroundSharp.IO;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Models;
using GroundSharp.Rec;
using TorchSharp;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp ground</c>: heatmap, point and box for each phrase in one image.</summary>
public static class GroundCommand
{
    public static Command Build()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "ALBEF/AMC checkpoint (.pth from PyTorch, or .safetensors)" };
        var config = new Option<string?>("--config") { Description = "model config JSON (default: stored in the checkpoint, groundsharp-config.json beside it, or ALBEF-base)" };
        var vocab = new Option<string?>("--vocab") { Description = "BERT vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var image = new Option<string>("--image") { Description = "image file (PNG, JPEG, BMP, WebP, GIF)", Required = true };
        var text = new Option<string[]>("--text") { Description = "a phrase to ground (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--out") { Description = "output folder for overlays and results.json", DefaultValueFactory = _ => "groundsharp-out" };
        var layer = new Option<int?>("--layer") { Description = "BERT layer whose cross-attention is explained (default: the config's gradcam_layer)" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var method = new Option<string>("--method") { Description = CliModels.MethodDescription, DefaultValueFactory = _ => "auto" };
        var overlaySize = new Option<int>("--overlay-size") { Description = $"long side of the overlay PNGs in pixels (0 = the image's full size); results.json is always in original pixels", DefaultValueFactory = _ => HeatmapOverlay.DefaultMaxSide };
        var cmd = new Command("ground", "Ground phrases in an image: writes one overlay PNG per phrase and results.json.")
        {
            checkpoint, config, vocab, image, text, output, layer, device, method, overlaySize,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            var ck = ModelsCommand.ResolveArgument(r.GetValue(checkpoint));
            var phrases = r.GetValue(text) ?? Array.Empty<string>();
            bool rec = CliModels.UsesRec(r.GetValue(method)!, ck,
                (r.GetValue(config) is not null, "--config"), (r.GetValue(vocab) is not null, "--vocab"), (r.GetValue(layer) is not null, "--layer"));
            int size = r.GetValue(overlaySize);
            if (size < 0) throw new GroundSharpException($"--overlay-size must be >= 0 (0 = full size), got {size}");
            return rec
                ? ExecuteRec(ck!, r.GetValue(image)!, phrases, r.GetValue(output)!, r.GetValue(device)!, size)
                : Execute(ck, r.GetValue(config), r.GetValue(vocab), r.GetValue(image)!, phrases, r.GetValue(output)!, r.GetValue(layer), r.GetValue(device)!, size);
        }));
        return cmd;
    }

    private static void CheckPhrases(IReadOnlyList<string> phrases)
    {
        if (phrases.Count == 0) throw new GroundSharpException("give at least one --text phrase");
        foreach (var p in phrases)
            if (string.IsNullOrWhiteSpace(p)) throw new GroundSharpException("an empty --text phrase was given");
    }

    /// <summary>Grounding with a REC checkpoint: the anchor box most similar to each phrase, the other candidates drawn with their scores.</summary>
    public static int ExecuteRec(string checkpoint, string imagePath, IReadOnlyList<string> phrases, string outDir, string device,
        int overlaySize = HeatmapOverlay.DefaultMaxSide)
    {
        CheckPhrases(phrases);
        CheckpointPath.RequireFile(checkpoint, "--checkpoint");
        var img = ImageLoader.Load(imagePath);
        using var model = RecModel.Load(checkpoint);
        if (device != "cpu") model.to(TorchSharp.torch.device(device));
        var display = HeatmapOverlay.ToDisplay(img, overlaySize);
        var answers = new RecGrounder(model).Ground(img, phrases).Select(r => new Answer(r.Phrase, r.Similarity, r.Point, r.Box, r.Warnings,
            () => HeatmapOverlay.RenderBoxesOnDisplay(display, img.Width, img.Height, r.Box, r.Point, r.Candidates.Select(c => (c.Box, c.Similarity)).ToList(), label: r.Phrase),
            r.JsonFields())).ToList();
        return Write(img, imagePath, outDir, answers, "similarity", new()
        {
            ["checkpoint"] = checkpoint,
            ["method"] = "rec",
            ["boxRule"] = "the detector anchor whose embedding is most similar to the phrase (cosine); box in original pixels, point = its centre; score = that similarity",
        });
    }

    public static int Execute(string? checkpoint, string? configPath, string? vocabPath, string imagePath, IReadOnlyList<string> phrases,
                              string outDir, int? layer, string device, int overlaySize = HeatmapOverlay.DefaultMaxSide)
    {
        CheckPhrases(phrases);
        var img = ImageLoader.Load(imagePath);
        var model = CliModels.Resolve(checkpoint, configPath, vocabPath, device);
        var grounder = new Grounder(model.Model, model.Tokenizer, new GrounderOptions { Layer = layer });
        return GroundAndWrite(grounder, img, imagePath, phrases, outDir, new() { ["checkpoint"] = model.Source, ["config"] = model.ConfigSource }, overlaySize);
    }

    /// <summary>What <c>ground</c> does once the image and the model are loaded: ground, write overlays and results.json.</summary>
    public static int GroundAndWrite(Grounder grounder, RgbImage img, string imagePath, IReadOnlyList<string> phrases, string outDir,
        Dictionary<string, object?> header, int overlaySize = HeatmapOverlay.DefaultMaxSide, bool printTable = true)
    {
        var display = HeatmapOverlay.ToDisplay(img, overlaySize);
        var answers = grounder.Ground(img, phrases).Select(r => new Answer(r.Phrase, r.Score, r.Point, r.Box, r.Warnings,
            () => HeatmapOverlay.RenderOnDisplay(display, r, label: r.Phrase), GroundingResultJson.Fields(r))).ToList();
        header["method"] = "gradcam";
        header["layer"] = grounder.Layer;
        header["boxRule"] = $"bounding box of the 4-connected region >= {HeatmapBox.DefaultFraction} x peak containing the point; x2/y2 exclusive";
        return Write(img, imagePath, outDir, answers, "match p", header, printTable);
    }

    /// <summary>One phrase's answer, whichever method gave it: what the table shows, how to draw it, its results.json fields.</summary>
    private sealed record Answer(string Phrase, double Score, (int X, int Y) Point, Box Box, IReadOnlyList<string> Warnings,
        Func<SkiaSharp.SKBitmap> Render, Dictionary<string, object?> Fields);

    /// <summary>Warnings, one overlay PNG per phrase, results.json (the header's keys, then image and results) and the table.</summary>
    private static int Write(RgbImage img, string imagePath, string outDir, IReadOnlyList<Answer> answers, string scoreColumn,
        Dictionary<string, object?> header, bool printTable = true)
    {
        foreach (var a in answers)
            foreach (var w in a.Warnings) Console.Error.WriteLine("warning: " + w);
        Directory.CreateDirectory(outDir);
        var entries = new List<object>();
        var files = new List<string>();
        for (int i = 0; i < answers.Count; i++)
        {
            var a = answers[i];
            string file = $"{i:D2}-{Slug(a.Phrase)}.png";
            files.Add(file);
            using (var bmp = a.Render()) HeatmapOverlay.SavePng(bmp, Path.Combine(outDir, file));
            var entry = new Dictionary<string, object?>(a.Fields) { ["overlay"] = file };
            entries.Add(entry);
        }
        var doc = new Dictionary<string, object?> { ["image"] = new { path = imagePath, width = img.Width, height = img.Height } };
        foreach (var (key, value) in header) doc[key] = value;
        doc["results"] = entries;
        AtomicFile.WriteJson(Path.Combine(outDir, "results.json"), doc);
        if (!printTable) return 0;

        var table = new Table().AddColumns("#", "phrase", scoreColumn, "point (x, y)", "box (x1, y1, x2, y2)", "overlay");
        for (int i = 0; i < answers.Count; i++)
        {
            var a = answers[i];
            table.AddRow(i.ToString(), CliRunner.Esc(a.Phrase), a.Score.ToString("F3", CultureInfo.InvariantCulture),
                $"{a.Point.X}, {a.Point.Y}", $"{a.Box.X1:0}, {a.Box.Y1:0}, {a.Box.X2:0}, {a.Box.Y2:0}", CliRunner.Esc(files[i]));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"wrote [bold]{CliRunner.Esc(Path.Combine(outDir, "results.json"))}[/]");
        return 0;
    }

    public static string Slug(string phrase)
    {
        var chars = phrase.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray();
        var s = string.Join('-', new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
        return s.Length == 0 ? "phrase" : s[..Math.Min(40, s.Length)];
    }
}
