using GroundSharp.Cli.Commands;
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using SkiaSharp;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// <c>ground</c> on a phone photo: decode a 12-megapixel JPEG, ground 16 phrases, write the overlays and results.json,
/// against the same at 1 megapixel — time and peak resident memory.
/// </summary>
internal static class PhotoBench
{
    public const double TimeGoal = 2.0, MemoryGoal = 1.5;

    public static void Run(BenchContext ctx, AlbefModel model, IReadOnlyList<string> phrases)
    {
        BenchContext.Heading($"big photos: ground {phrases.Count} phrases in a 12-MP JPEG vs a 1-MP JPEG (decode, ground, write overlays)");
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        var sizes = new[] { ("1 MP (1152x864)", 1152, 864), ("12 MP (4000x3000)", 4000, 3000) };
        var rows = new List<(string Name, double Seconds, long Peak, long Before)>();
        var parts = new List<string>();
        foreach (var (name, w, h) in sizes)
        {
            string jpeg = Path.Combine(ctx.Scratch, $"photo-{w}x{h}.jpg");
            using (var bmp = Measure.PhotoLike(w, h, seed: 2).ToSKBitmap())
            using (var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90))
            using (var f = File.Create(jpeg)) data.SaveTo(f);
            string outDir = Path.Combine(ctx.Scratch, $"ground-{w}x{h}");
            void Once()
            {
                var img = ImageLoader.Load(jpeg);
                GroundCommand.GroundAndWrite(grounder, img, jpeg, phrases, outDir, new(), printTable: false);
            }
            Once(); // warm-up
            Measure.ResetPeak();
            long before = Measure.RssBytes();
            double s = Measure.BestOf(ctx.Repeats, Once, warmUp: false);
            rows.Add((name, s, Measure.PeakRssBytes(), before));
            // Where the time goes (each part alone, best of the repeats).
            RgbImage? decoded = null;
            double decode = Measure.BestOf(ctx.Repeats, () => decoded = ImageLoader.Load(jpeg), warmUp: false);
            double ground = Measure.BestOf(ctx.Repeats, () => grounder.Ground(decoded!, phrases), warmUp: false);
            parts.Add($"{name}: decode {Measure.Ms(decode)}, ground {Measure.Ms(ground)}, overlays and results.json {Measure.Ms(Math.Max(0, s - decode - ground))}");
        }
        var table = new Table().AddColumns("image", "time", "peak RSS", "peak above the loaded model", "time ratio", "memory ratio");
        var (_, s1, p1, b1) = rows[0];
        foreach (var (name, s, peak, before) in rows)
            table.AddRow(name, Measure.Ms(s), Measure.Mib(peak), Measure.Mib(peak - before),
                ReferenceEquals(name, rows[0].Name) ? "1.00x" : Measure.Ratio(s / s1, TimeGoal),
                ReferenceEquals(name, rows[0].Name) ? "1.00x" : Measure.Ratio((double)peak / p1, MemoryGoal));
        AnsiConsole.Write(table);
        foreach (var p in parts) AnsiConsole.MarkupLine(Markup.Escape(p));
        AnsiConsole.MarkupLine($"overlays at display size (long side {HeatmapOverlay.DefaultMaxSide} px, ground's default --overlay-size); point and box from the full-size map");
    }
}
