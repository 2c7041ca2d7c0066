using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp bench</c>: GradCAM heatmaps per second of our path (image encoded once, phrases batched,
/// backward only to the attention) next to the authors' path (per phrase: whole forward with a graph +
/// whole-model backward), measured in the same run on random weights.
/// </summary>
public static class BenchCommand
{
    private static readonly string[] Phrases =
    {
        "a red umbrella", "the dog on the left", "a man riding a horse", "two children playing in the sand",
        "the blue car", "top left window", "a woman in a white dress", "the small green bird on a branch",
        "bottom right corner", "a cup of coffee", "the tallest building", "a boy with a kite",
        "the yellow taxi on the street", "a black cat", "people waiting at the bus stop", "the striped shirt",
    };

    public static Command Build()
    {
        var size = new Option<string>("--size") { Description = "model size: base (ALBEF-base, 256 px) or tiny", DefaultValueFactory = _ => "base" };
        var phraseCounts = new Option<string>("--phrases") { Description = "phrase counts per image, comma-separated", DefaultValueFactory = _ => "1,4,16" };
        var images = new Option<int>("--images") { Description = "images for the several-images row (4 phrases each)", DefaultValueFactory = _ => 4 };
        var naivePairs = new Option<int>("--naive-pairs") { Description = "(image, phrase) pairs timed on the naive path", DefaultValueFactory = _ => 3 };
        var repeats = new Option<int>("--repeats") { Description = "timed repeats per row (best is reported)", DefaultValueFactory = _ => 2 };
        var cmd = new Command("bench", "Measure GradCAM grounding throughput against the naive per-phrase full-backward path.")
        {
            size, phraseCounts, images, naivePairs, repeats,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(size)!, r.GetValue(phraseCounts)!, r.GetValue(images),
            r.GetValue(naivePairs), r.GetValue(repeats))));
        return cmd;
    }

    public static int Execute(string size, string phraseCountsText, int imageCount, int naivePairs, int repeats)
    {
        TorchRuntime.EnsureLoaded();
        var counts = phraseCountsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out var n) && n > 0 ? n : throw new GroundSharpException($"--phrases: '{s}' is not a positive integer")).ToArray();
        if (imageCount < 1 || naivePairs < 1 || repeats < 1) throw new GroundSharpException("--images, --naive-pairs and --repeats must be >= 1");
        var cfg = size switch
        {
            "base" => AlbefConfig.Base,
            "tiny" => AlbefConfig.Tiny,
            _ => throw new GroundSharpException($"--size must be base or tiny, not '{size}'"),
        };
        AnsiConsole.MarkupLine($"GradCAM bench: ALBEF-{size} random weights, image {cfg.ImageRes}px, GradCAM layer {cfg.EffectiveGradcamLayer}, {torch.get_num_threads()} threads");
        using var model = new AlbefModel(cfg, seed: 0);
        model.eval();
        var tokenizer = AlbefTokenizer.Default;
        var rng = new Random(0);
        var images = Enumerable.Range(0, Math.Max(imageCount, 1)).Select(_ => RandomImage(rng, 640, 480)).ToList();
        var pixels = images.Select(im => ImagePreprocessor.ToTensor(im, cfg.ImageRes).unsqueeze(0)).ToList();

        // Our path first, so that its peak memory is not inflated by what the naive path leaves allocated.
        var rows = new List<(string Name, double Rate, long Peak)>();
        void Row(string name, int heatmaps, Action run)
        {
            ResetPeak();
            double s = BestOf(repeats, run);
            rows.Add((name, heatmaps / s, PeakRssBytes()));
        }
        foreach (var n in counts)
        {
            var phrases = Enumerable.Range(0, n).Select(i => Phrases[i % Phrases.Length]).ToList();
            Row($"1 image x {n} phrases", n, () =>
            {
                using var tok = tokenizer.Encode(phrases, cfg.Bert.MaxPositionEmbeddings);
                using var o = FastMaps(model, pixels[0], tok);
            });
        }
        var four = Phrases.Take(4).ToList();
        Row($"{imageCount} images x 4 phrases", imageCount * 4, () =>
        {
            for (int i = 0; i < imageCount; i++)
            {
                using var tok = tokenizer.Encode(four, cfg.Bert.MaxPositionEmbeddings);
                using var o = FastMaps(model, pixels[i], tok);
            }
        });

        // Naive path: its cost per heatmap does not depend on how many phrases an image has.
        ResetPeak();
        double naiveSeconds = BestOf(repeats, () =>
        {
            for (int i = 0; i < naivePairs; i++)
            {
                using var tok = tokenizer.Encode(new[] { Phrases[i % Phrases.Length] }, cfg.Bert.MaxPositionEmbeddings);
                using var map = NaiveGradCam.ForPair(model, pixels[i % pixels.Count], tok.InputIds, tok.AttentionMask);
            }
        }) / naivePairs;
        long naivePeak = PeakRssBytes();
        double naiveRate = 1.0 / naiveSeconds;

        var table = new Table().AddColumns("workload", "ours heatmaps/s", "naive heatmaps/s", "speed-up", "ours peak RSS", "naive peak RSS");
        foreach (var (name, rate, peak) in rows)
            table.AddRow(name, rate.ToString("F2", CultureInfo.InvariantCulture), naiveRate.ToString("F2", CultureInfo.InvariantCulture),
                $"{rate / naiveRate:F1}x", Mib(peak), Mib(naivePeak));
        // Agreement of the two paths on one pair (they compute the same map).
        using (var tok = tokenizer.Encode(new[] { Phrases[0] }, cfg.Bert.MaxPositionEmbeddings))
        using (var naive = NaiveGradCam.ForPair(model, pixels[0], tok.InputIds, tok.AttentionMask))
        using (var fast = FastMaps(model, pixels[0], tok))
        {
            double diff = (naive - fast.Maps).abs().max().item<float>() / Math.Max(naive.abs().max().item<float>(), 1e-30f);
            AnsiConsole.MarkupLine($"fast vs naive map agreement: max rel diff {diff:E2}");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"naive = the authors' evaluation path: per (image, phrase) a ViT + BERT forward with a graph and a whole-model backward ({naivePairs} pairs timed, {naiveSeconds * 1000:F0} ms each). Best of {repeats} repeats.");
        foreach (var p in pixels) p.Dispose();
        return 0;
    }

    private static GradCamOutput FastMaps(AlbefModel model, Tensor pixels, TokenBatch tok)
    {
        using var scope = NewDisposeScope();
        Tensor embeds;
        using (no_grad()) embeds = model.EncodeImage(pixels);
        var o = GradCam.ForGrounding(model, embeds, tok.InputIds, tok.AttentionMask);
        o.Maps.MoveToOuterDisposeScope(); o.ItmLogits.MoveToOuterDisposeScope();
        o.Attention.MoveToOuterDisposeScope(); o.AttentionGrad.MoveToOuterDisposeScope();
        return o;
    }

    private static double BestOf(int repeats, Action run)
    {
        run(); // warm-up
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            run();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static RgbImage RandomImage(Random rng, int w, int h)
    {
        var px = new byte[w * h * 3];
        rng.NextBytes(px);
        return new RgbImage(w, h, px);
    }

    /// <summary>Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM).</summary>
    private static void ResetPeak()
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static long PeakRssBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:"));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):F0} MiB";
}
