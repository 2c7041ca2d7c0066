using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// bf16 against fp32, end to end (<see cref="Grounder.Ground(RgbImage, IReadOnlyList{string})"/> on a photo): the speed-up, and
/// how often the point stays the same pixel (argmax agreement) with the maps' largest relative difference — on the
/// bench's random-weight model and on the shipped default model, whose maps are those of a trained model.
/// </summary>
internal static class DtypeBench
{
    public const double SpeedGoal = 1.3, AgreementGoal = 0.99;

    public static void Run(BenchContext ctx, AlbefModel model, IReadOnlyList<string> phrases)
    {
        BenchContext.Heading("bf16 vs fp32 (whole model in bf16; end to end through Grounder)");
        var table = new Table().AddColumns("model", "workload", "fp32", "bf16", "speed-up", "argmax agreement", "max rel. map diff");
        Compare(ctx, $"ALBEF-{ctx.Size} (random)", model, phrases, table);
        var shipped = DefaultModel.Locate();
        if (shipped is not null)
        {
            var loaded = AlbefLoader.Load(shipped);
            using var small = loaded.Model;
            Compare(ctx, "shipped default model", small, phrases, table);
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"agreement over 8 photos x {phrases.Count} phrases; goals for offering --dtype bf16: speed-up >= {SpeedGoal}x and agreement >= {AgreementGoal:P0}");
    }

    private static void Compare(BenchContext ctx, string name, AlbefModel fp32, IReadOnlyList<string> phrases, Table table)
    {
        using var bf16 = new AlbefModel(fp32.Config, initialise: false);
        using (no_grad())
            foreach (var ((_, dst), (_, src)) in bf16.named_parameters().Zip(fp32.named_parameters())) dst.copy_(src);
        bf16.to(ScalarType.BFloat16);
        var g32 = new Grounder(fp32, AlbefTokenizer.Default);
        var g16 = new Grounder(bf16, AlbefTokenizer.Default);
        var photos = Enumerable.Range(0, 8).Select(i => Measure.PhotoLike(640, 480, seed: 10 + i)).ToList();
        int same = 0, total = 0;
        double maxRel = 0;
        foreach (var photo in photos)
        {
            var a = g32.Ground(photo, phrases);
            var b = g16.Ground(photo, phrases);
            for (int i = 0; i < a.Count; i++)
            {
                total++;
                if (a[i].Point == b[i].Point) same++;
                float peak = a[i].GridMap.Max(v => Math.Abs(v));
                double diff = a[i].GridMap.Zip(b[i].GridMap).Max(p => Math.Abs(p.First - p.Second));
                maxRel = Math.Max(maxRel, diff / Math.Max(peak, 1e-30f));
            }
        }
        double agreement = (double)same / total;
        foreach (var (workload, list) in new[] { ("1 phrase", (IReadOnlyList<string>)phrases.Take(1).ToList()), ($"{phrases.Count} phrases", phrases) })
        {
            double t32 = Measure.BestOf(ctx.Repeats, () => g32.Ground(photos[0], list));
            double t16 = Measure.BestOf(ctx.Repeats, () => g16.Ground(photos[0], list));
            table.AddRow(name, workload, Measure.Ms(t32), Measure.Ms(t16), $"{Measure.F(t32 / t16)}x",
                $"{agreement:P1} ({same}/{total})", maxRel.ToString("E2", System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
