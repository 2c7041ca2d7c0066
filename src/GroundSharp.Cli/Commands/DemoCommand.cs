using System.CommandLine;
using System.Globalization;
using System.Text;
using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Models;
using SkiaSharp;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp demo</c>: end to end on what ships in the repository: draws a few scenes, grounds their
/// phrases, writes overlays and a markdown report, prints the pointing accuracy.
/// </summary>
public static class DemoCommand
{
    public static Command Build()
    {
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "groundsharp-demo" };
        var seed = new Option<int>("--seed") { Description = "scene and model seed", DefaultValueFactory = _ => 7 };
        var cmd = new Command("demo", "Run grounding end to end on generated scenes; writes overlays and report.md.") { output, seed };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(output)!, r.GetValue(seed))));
        return cmd;
    }

    private sealed record Shape(string Colour, SKColor Paint, string Kind, Box Box);

    public static int Execute(string outDir, int seed)
    {
        TorchRuntime.EnsureLoaded();
        AnsiConsole.MarkupLine("[yellow bold]NOTE:[/] [yellow]no trained model ships with GroundSharp yet. This demo uses a tiny, randomly " +
                               "initialised ALBEF, so its heatmaps are NOT meaningful and its accuracy is at chance level. It shows " +
                               "the pipeline (decode → preprocess → tokenize → ViT/BERT → GradCAM → point/box → overlay) working end to end.[/]");
        var cfg = AlbefConfig.Tiny;
        using var model = new AlbefModel(cfg, seed: seed);
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        Directory.CreateDirectory(outDir);
        var rng = new Random(seed);
        var table = new AccuracyTable();
        var report = new StringBuilder();
        report.AppendLine("# GroundSharp demo").AppendLine();
        report.AppendLine("Model: tiny ALBEF with **random weights** (no trained model ships yet): heatmaps are not meaningful.").AppendLine();
        report.AppendLine("| scene | phrase | match p | point | hit | overlay |").AppendLine("|---|---|---|---|---|---|");

        for (int s = 0; s < 3; s++)
        {
            var (image, shapes) = DrawScene(rng, 320, 240);
            string scene = $"scene{s}";
            using (var bmp = image.ToSKBitmap()) HeatmapOverlay.SavePng(bmp, Path.Combine(outDir, scene + ".png"));
            var phrases = shapes.Select(sh => $"the {sh.Colour} {sh.Kind}").ToList();
            var results = grounder.Ground(image, phrases);
            for (int i = 0; i < results.Count; i++)
            {
                var r = results[i];
                bool hit = PointingGame.IsHit(r.Point, new[] { shapes[i].Box });
                table.Add(hit, "demo", new[] { shapes[i].Kind });
                string file = $"{scene}-{i}-{GroundCommand.Slug(r.Phrase)}.png";
                using (var bmp = HeatmapOverlay.Render(image, r, label: r.Phrase)) HeatmapOverlay.SavePng(bmp, Path.Combine(outDir, file));
                report.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {scene} | {r.Phrase} | {r.Score:F3} | ({r.Point.X}, {r.Point.Y}) | {(hit ? "yes" : "no")} | ![]({file}) |"));
            }
        }
        var acc = table.Overall;
        report.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture, $"Pointing accuracy: {acc.Hits}/{acc.Total} = {acc.Accuracy:P1} (random weights: chance level)."));
        report.AppendLine().AppendLine(table.ToMarkdown());
        var reportPath = Path.Combine(outDir, "report.md");
        File.WriteAllText(reportPath + ".tmp", report.ToString());
        File.Move(reportPath + ".tmp", reportPath, overwrite: true);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"pointing accuracy: [bold]{acc.Hits}/{acc.Total} = {acc.Accuracy:P1}[/] (random weights: chance level)"));
        AnsiConsole.MarkupLine($"wrote overlays and [bold]{CliRunner.Esc(reportPath)}[/]");
        return 0;
    }

    private static (RgbImage Image, List<Shape> Shapes) DrawScene(Random rng, int w, int h)
    {
        var palette = new (string, SKColor)[] { ("red", SKColors.Red), ("blue", SKColors.Blue), ("green", SKColors.Green), ("yellow", SKColors.Gold) };
        var kinds = new[] { "circle", "square", "triangle" };
        using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(new SKColor(235, 235, 225));
        var shapes = new List<Shape>();
        var colours = palette.OrderBy(_ => rng.Next()).Take(3).ToArray();
        for (int i = 0; i < 3; i++)
        {
            int size = 50 + rng.Next(30);
            int x = 10 + i * (w / 3) + rng.Next(Math.Max(1, w / 3 - size - 20));
            int y = 10 + rng.Next(h - size - 20);
            var (name, colour) = colours[i];
            var kind = kinds[rng.Next(kinds.Length)];
            using var paint = new SKPaint { Color = colour, IsAntialias = true, Style = SKPaintStyle.Fill };
            switch (kind)
            {
                case "circle": canvas.DrawCircle(x + size / 2f, y + size / 2f, size / 2f, paint); break;
                case "square": canvas.DrawRect(x, y, size, size, paint); break;
                default:
                    using (var path = new SKPath())
                    {
                        path.MoveTo(x + size / 2f, y); path.LineTo(x + size, y + size); path.LineTo(x, y + size); path.Close();
                        canvas.DrawPath(path, paint);
                    }
                    break;
            }
            shapes.Add(new Shape(name, colour, kind, new Box(x, y, x + size, y + size)));
        }
        return (RgbImage.FromSKBitmap(bmp), shapes);
    }
}
