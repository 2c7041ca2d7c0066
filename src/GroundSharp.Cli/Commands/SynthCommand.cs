using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GroundSharp.Data.Synthetic;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp synth --seed S --out DIR</c>: writes the deterministic synthetic grounding benchmark
/// (docs/synthetic-benchmark.md). Knobs left out keep the defaults (or the <c>--tiny</c> preset's values).
/// </summary>
public static class SynthCommand
{
    public static Command Build()
    {
        var seed = new Option<int>("--seed") { Description = "benchmark seed: the same seed and knobs give byte-identical files", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "output folder (empty, or an earlier benchmark to replace)", Required = true };
        var tiny = new Option<bool>("--tiny") { Description = "preset: a few 128x128 images per split (tests, quick looks)" };
        var counts = SynthSplits.All.ToDictionary(s => s, s => new Option<int?>("--" + s) { Description = $"images in the {s} split" });
        var width = new Option<int?>("--width") { Description = "image width (default 256; 128 with --tiny)" };
        var height = new Option<int?>("--height") { Description = "image height (default 256; 128 with --tiny)" };
        var varySize = new Option<bool>("--vary-size") { Description = "draw each image's width and height from 0.75-1.25 x the nominal size" };
        var minObjects = new Option<int?>("--min-objects") { Description = "fewest objects per scene (default 2)" };
        var maxObjects = new Option<int?>("--max-objects") { Description = "most objects per scene (default 6, at most 8)" };
        var occlusion = new Option<double?>("--occlusion") { Description = "probability that a scene has a partly occluded object (default 0.25)" };
        var noisy = new Option<double?>("--noisy") { Description = "probability of a noisy rather than cluttered background (default 0.5)" };
        var cmd = new Command("synth", "Generate the deterministic synthetic grounding benchmark (captions, phrases with boxes, splits).")
        {
            seed, output, tiny, width, height, varySize, minObjects, maxObjects, occlusion, noisy,
        };
        foreach (var o in counts.Values) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            var options = r.GetValue(tiny) ? SynthBenchmarkOptions.Tiny(r.GetValue(seed)) : new SynthBenchmarkOptions { Seed = r.GetValue(seed) };
            var scenes = options.Scenes;
            options = options with
            {
                Pretrain = r.GetValue(counts[SynthSplits.Pretrain]) ?? options.Pretrain,
                Boxes = r.GetValue(counts[SynthSplits.Boxes]) ?? options.Boxes,
                Val = r.GetValue(counts[SynthSplits.Val]) ?? options.Val,
                Test = r.GetValue(counts[SynthSplits.Test]) ?? options.Test,
                TestCompositional = r.GetValue(counts[SynthSplits.TestCompositional]) ?? options.TestCompositional,
                Scenes = scenes with
                {
                    Width = r.GetValue(width) ?? scenes.Width,
                    Height = r.GetValue(height) ?? scenes.Height,
                    VarySize = r.GetValue(varySize),
                    MinObjects = r.GetValue(minObjects) ?? scenes.MinObjects,
                    MaxObjects = r.GetValue(maxObjects) ?? scenes.MaxObjects,
                    OcclusionRate = r.GetValue(occlusion) ?? scenes.OcclusionRate,
                    NoisyRate = r.GetValue(noisy) ?? scenes.NoisyRate,
                },
            };
            return Execute(options, r.GetValue(output)!);
        }, usesTorch: false));
        return cmd;
    }

    public static int Execute(SynthBenchmarkOptions options, string outDir)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        // Progress goes to stderr, one line per ~10 % of a split, so logs stay readable when redirected.
        var counts = SynthBenchmark.Write(options, outDir, line => Console.Error.WriteLine("synth: " + line));
        var table = new Table().AddColumns("split", "images", "phrases", "attribute", "spatial", "relational");
        foreach (var (split, c) in counts)
            table.AddRow(split, N(c.Images), N(c.Phrases), N(c.Categories.GetValueOrDefault("attribute")),
                N(c.Categories.GetValueOrDefault("spatial")), N(c.Categories.GetValueOrDefault("relational")));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote the synthetic benchmark (seed {options.Seed}) to [bold]{CliRunner.Esc(outDir)}[/] in {clock.Elapsed.TotalSeconds:F1} s; see synth.json"));
        return 0;
    }

    private static string N(int n) => n.ToString(CultureInfo.InvariantCulture);
}
