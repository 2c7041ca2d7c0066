using GroundSharp.Data;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// bf16 against fp32, image to point: the speed-up, how often the point stays the same pixel (argmax agreement) and the
/// maps' largest relative difference — for the whole model in bf16 and for the ViT alone in bf16 (its embeddings cast
/// back to fp32 for the text side and the GradCAM) — on the bench's random-weight model and on the shipped default model,
/// with synthetic test scenes and their own phrases (in domain for the shipped model).
/// </summary>
internal static class DtypeBench
{
    public const double SpeedGoal = 1.3, AgreementGoal = 0.99;
    private const int Scenes = 12;

    public static void Run(BenchContext ctx, AlbefModel model)
    {
        BenchContext.Heading("bf16 vs fp32, image to point (preprocess, ViT, GradCAM, upsampling to the image size, first maximum)");
        var scenes = Enumerable.Range(0, Scenes).Select(i => SynthBenchmark.GenerateScene(new SynthBenchmarkOptions { Seed = 4242 }, SynthSplits.Test, i))
            .Select(s => (Image: SceneRenderer.Render(s.Scene), Phrases: (IReadOnlyList<string>)s.Phrases.Select(p => p.Text).ToList())).ToList();
        var table = new Table().AddColumns("model", "in bf16", "fp32 per scene", "bf16 per scene", "speed-up", "argmax agreement", "max rel. map diff");
        Compare(ctx, $"ALBEF-{ctx.Size} (random)", model, scenes, table);
        if (DefaultModel.Locate() is { } shipped)
        {
            using var small = AlbefLoader.Load(shipped).Model;
            Compare(ctx, "shipped default model", small, scenes, table);
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{Scenes} synthetic test scenes (seed 4242) with their {scenes.Sum(s => s.Phrases.Count)} phrases; times are the mean per scene (all its phrases). " +
            $"Goals for offering --dtype bf16: speed-up >= {SpeedGoal}x and agreement >= {AgreementGoal:P0}");
    }

    private static void Compare(BenchContext ctx, string name, AlbefModel fp32, IReadOnlyList<(RgbImage Image, IReadOnlyList<string> Phrases)> scenes, Table table)
    {
        using var bf16 = new AlbefModel(fp32.Config, initialise: false);
        using (no_grad())
            foreach (var ((_, dst), (_, src)) in bf16.named_parameters().Zip(fp32.named_parameters())) dst.copy_(src);
        bf16.to(ScalarType.BFloat16);
        var variants = new (string Name, Func<RgbImage, IReadOnlyList<string>, List<(float[] Grid, (int X, int Y) Point)>> Run)[]
        {
            ("whole model", (img, ph) => Points(bf16, bf16, img, ph)),
            ("ViT only", (img, ph) => Points(bf16, fp32, img, ph)),
        };
        var reference = scenes.Select(s => Points(fp32, fp32, s.Image, s.Phrases)).ToList();
        double t32 = Measure.BestOf(ctx.Repeats, () => { foreach (var s in scenes) Points(fp32, fp32, s.Image, s.Phrases); }) / scenes.Count;
        foreach (var (variant, run) in variants)
        {
            int same = 0, total = 0;
            double maxRel = 0;
            for (int k = 0; k < scenes.Count; k++)
            {
                var got = run(scenes[k].Image, scenes[k].Phrases);
                for (int i = 0; i < got.Count; i++)
                {
                    var (grid, point) = reference[k][i];
                    total++;
                    if (got[i].Point == point) same++;
                    float peak = Math.Max(grid.Max(v => Math.Abs(v)), 1e-30f);
                    maxRel = Math.Max(maxRel, grid.Zip(got[i].Grid).Max(p => Math.Abs(p.First - p.Second)) / peak);
                }
            }
            double t16 = Measure.BestOf(ctx.Repeats, () => { foreach (var s in scenes) run(s.Image, s.Phrases); }) / scenes.Count;
            table.AddRow(name, variant, Measure.Ms(t32), Measure.Ms(t16), $"{Measure.F(t32 / t16)}x",
                $"{(double)same / total:P1} ({same}/{total})", maxRel.ToString("E2", System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>One image's phrases: the image encoded by <paramref name="vision"/>, the text side and GradCAM by <paramref name="text"/>.</summary>
    private static List<(float[] Grid, (int X, int Y) Point)> Points(AlbefModel vision, AlbefModel text, RgbImage image, IReadOnlyList<string> phrases)
    {
        using var scope = NewDisposeScope();
        var cfg = text.Config;
        Tensor embeds;
        using (no_grad())
            embeds = vision.EncodeImage(ImagePreprocessor.ToTensor(image, cfg.ImageRes).unsqueeze(0).to_type(vision.DType)).to_type(text.DType);
        using var tok = AlbefTokenizer.Default.Encode(phrases, cfg.Bert.MaxPositionEmbeddings, cfg.MaxWords);
        using var cam = GradCam.ForGrounding(text, embeds, tok.InputIds, tok.AttentionMask);
        var result = new List<(float[], (int, int))>();
        for (int i = 0; i < phrases.Count; i++)
        {
            var grid = cam.Maps[i].to_type(ScalarType.Float32).cpu();
            result.Add((grid.data<float>().ToArray(), Heatmaps.PredictPoint(grid, image.Height, image.Width)));
        }
        return result;
    }
}
