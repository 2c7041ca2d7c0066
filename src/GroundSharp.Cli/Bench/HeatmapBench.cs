using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// GradCAM heatmaps per second of our path (image encoded once, phrases batched, backward only to the attention)
/// next to the authors' path (per phrase: whole forward with a graph + whole-model backward).
/// </summary>
internal static class HeatmapBench
{
    public static readonly string[] Phrases =
    {
        "a red umbrella", "the dog on the left", "a man riding a horse", "two children playing in the sand",
        "the blue car", "top left window", "a woman in a white dress", "the small green bird on a branch",
        "bottom right corner", "a cup of coffee", "the tallest building", "a boy with a kite",
        "the yellow taxi on the street", "a black cat", "people waiting at the bus stop", "the striped shirt",
    };

    public static void Run(BenchContext ctx, AlbefModel model, IReadOnlyList<int> counts, int imageCount, int naivePairs)
    {
        var cfg = model.Config;
        BenchContext.Heading($"GradCAM heatmaps/s: ours vs the authors' evaluation path (GradCAM layer {cfg.EffectiveGradcamLayer})");
        var tokenizer = AlbefTokenizer.Default;
        var rng = new Random(0);
        var pixels = Enumerable.Range(0, Math.Max(imageCount, 1))
            .Select(_ => ImagePreprocessor.ToTensor(RandomImage(rng, 640, 480), cfg.ImageRes).unsqueeze(0).to_type(model.DType)).ToList();

        // Our path first, so that its peak memory is not inflated by what the naive path leaves allocated.
        var rows = new List<(string Name, double Rate, long Peak)>();
        void Row(string name, int heatmaps, Action run)
        {
            Measure.ResetPeak();
            double s = Measure.BestOf(ctx.Repeats, run);
            rows.Add((name, heatmaps / s, Measure.PeakRssBytes()));
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
        Measure.ResetPeak();
        double naiveSeconds = Measure.BestOf(ctx.Repeats, () =>
        {
            for (int i = 0; i < naivePairs; i++)
            {
                using var tok = tokenizer.Encode(new[] { Phrases[i % Phrases.Length] }, cfg.Bert.MaxPositionEmbeddings);
                using var map = NaiveGradCam.ForPair(model, pixels[i % pixels.Count], tok.InputIds, tok.AttentionMask);
            }
        }) / naivePairs;
        long naivePeak = Measure.PeakRssBytes();
        double naiveRate = 1.0 / naiveSeconds;

        var table = new Table().AddColumns("workload", "ours heatmaps/s", "naive heatmaps/s", "speed-up", "ours peak RSS", "naive peak RSS");
        foreach (var (name, rate, peak) in rows)
            table.AddRow(name, Measure.F(rate), Measure.F(naiveRate), $"{Measure.F(rate / naiveRate, 1)}x", Measure.Mib(peak), Measure.Mib(naivePeak));
        // Agreement of the two paths on one pair (they compute the same map).
        using (var tok = tokenizer.Encode(new[] { Phrases[0] }, cfg.Bert.MaxPositionEmbeddings))
        using (var naive = NaiveGradCam.ForPair(model, pixels[0], tok.InputIds, tok.AttentionMask))
        using (var fast = FastMaps(model, pixels[0], tok))
        {
            double diff = (naive - fast.Maps).abs().max().to_type(ScalarType.Float32).item<float>()
                / Math.Max(naive.abs().max().to_type(ScalarType.Float32).item<float>(), 1e-30f);
            AnsiConsole.MarkupLine($"fast vs naive map agreement: max rel diff {diff:E2}");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"naive = the authors' evaluation path: per (image, phrase) a ViT + BERT forward with a graph and a whole-model backward ({naivePairs} pairs timed, {naiveSeconds * 1000:F0} ms each). Best of {ctx.Repeats} repeats.");
        foreach (var p in pixels) p.Dispose();
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

    private static RgbImage RandomImage(Random rng, int w, int h)
    {
        var px = new byte[w * h * 3];
        rng.NextBytes(px);
        return new RgbImage(w, h, px);
    }
}
