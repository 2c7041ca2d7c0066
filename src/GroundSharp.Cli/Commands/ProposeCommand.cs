using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Experiments;
using GroundSharp.IO;
using GroundSharp.Rec;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp propose</c>: runs a detector over the images of a RefCOCO-layout folder and writes the detection
/// proposals in the layout <c>eval --proposals</c> reads (ALBEF's <c>dets.json</c>: image id → [[x, y, w, h, score], ...]).
/// </summary>
public static class ProposeCommand
{
    public static Command Build()
    {
        var data = new Option<string>("--data") { Description = "RefCOCO-layout folder: refs.json and ALBEF's grounding files (*_val.json, *_test.json, ...)", Required = true };
        var imageRoot = new Option<string?>("--image-root") { Description = "folder the grounding files' image paths are under (default: DATA/images)" };
        var detector = new Option<string>("--detector") { Description = "YOLOv3: Darknet .weights (e.g. the public yolov3.weights) or a GroundSharp detector .safetensors", Required = true };
        var detectorConfig = new Option<string?>("--detector-config") { Description = "detector config JSON for a .weights file (default: yolov3.cfg — DarkNet-53, 80 COCO classes, 416 px, COCO anchors)" };
        var output = new Option<string?>("--out") { Description = "proposals file to write (default: DATA/dets.json; an existing default file is not overwritten)" };
        var max = new Option<int>("--max") { Description = "proposals kept per image, best first", DefaultValueFactory = _ => 100 };
        var minScore = new Option<double>("--min-score") { Description = "drop detections scoring below this (objectness × class probability)", DefaultValueFactory = _ => 0.0 };
        var nms = new Option<double>("--nms") { Description = "IoU above which class-agnostic NMS drops the weaker box", DefaultValueFactory = _ => 0.45 };
        var cmd = new Command("propose", "Detect objects in a RefCOCO-layout dataset's images and write dets.json, the proposals 'eval --proposals' ranks.")
        {
            data, imageRoot, detector, detectorConfig, output, max, minScore, nms,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(data)!, r.GetValue(imageRoot), ModelsCommand.ResolveArgument(r.GetValue(detector))!, r.GetValue(detectorConfig),
            r.GetValue(output), r.GetValue(max), r.GetValue(minScore), r.GetValue(nms))));
        return cmd;
    }

    public static int Execute(string data, string? imageRoot, string detectorPath, string? detectorConfig, string? output, int max, double minScore, double nms)
    {
        if (max < 1) throw new GroundSharpException("--max must be at least 1");
        if (!(minScore >= 0 && minScore <= 1)) throw new GroundSharpException("--min-score must be in [0, 1]");
        if (!(nms > 0 && nms <= 1)) throw new GroundSharpException("--nms must be in (0, 1]");
        if (!Directory.Exists(data)) throw new GroundSharpException($"--data: folder {data} not found");
        string outPath = output ?? Path.Combine(data, "dets.json");
        if (output is null && File.Exists(outPath))
            throw new GroundSharpException($"{outPath} exists; delete it or pass --out to write the proposals elsewhere");
        var images = ImagesOf(data, imageRoot ?? Path.Combine(data, "images"));
        foreach (var path in images.Values.Distinct())
            if (!File.Exists(path)) throw new GroundSharpException($"image {path} not found (set --image-root to the folder the grounding files' image paths are under)");

        using var model = YoloV3.LoadAny(detectorPath, detectorConfig);
        var sw = Stopwatch.StartNew();
        var paths = images.Values.Distinct().ToList();
        Console.Error.WriteLine($"detecting in {paths.Count} images with {detectorPath} ({model.Config.NumClasses} classes, {model.Config.InputSize} px)");
        var last = TimeSpan.Zero;
        var proposals = RecGroundingEval.ScoredProposals(model, paths, max, minScore, nms, chunkSize: 8, progress: (n, total) =>
        {
            if (n < total && sw.Elapsed - last < TimeSpan.FromSeconds(5)) return;
            last = sw.Elapsed;
            Console.Error.WriteLine($"{n}/{total} images, {n / sw.Elapsed.TotalSeconds:F1} images/s");
        });
        // dets.json: {"<image id>": [[x, y, w, h, score], ...]}, in original image pixels.
        var dets = images.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture),
            kv => proposals[kv.Value].Select(d => new[] { d.Box.X1, d.Box.Y1, d.Box.Width, d.Box.Height, d.Score }).ToList());
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteJson(outPath, dets);
        Console.WriteLine($"wrote {outPath}: {dets.Count} images, {dets.Values.Sum(l => l.Count)} proposals in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>Image id → image path for every query of the folder's grounding files.</summary>
    private static Dictionary<long, string> ImagesOf(string dir, string imageRoot)
    {
        var refsPath = Path.Combine(dir, "refs.json");
        if (!File.Exists(refsPath)) throw new GroundSharpException($"{refsPath} not found: --data must be a RefCOCO-layout folder (refs.json and *_val.json / *_test.json)");
        var lookup = RefLookup.Read(refsPath);
        var files = Directory.GetFiles(dir, "*.json").Where(f => Path.GetFileName(f) is not ("refs.json" or "dets.json") && Path.GetFullPath(f) != Path.GetFullPath(Path.Combine(dir, "dets.json")))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new GroundSharpException($"{dir}: no grounding files (*_val.json, *_test.json) beside refs.json");
        var images = new Dictionary<long, string>();
        foreach (var file in files)
            foreach (var item in RefGrounding.ReadItems(file, lookup, imageRoot))
                images[lookup.Refs[long.Parse(item.QueryId!, CultureInfo.InvariantCulture)].ImageId] = item.ImagePath;
        return images;
    }
}
