using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Tests.Models;
using Xunit;

namespace GroundSharp.Tests.Cli;

[Trait("Category", "EndToEnd")]
public class EvalCliTests
{
    private static string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));

    /// <summary>A small GroundingSample dataset over the fixture's images, two phrases each, two categories.</summary>
    private static string WriteDataset(string dir)
    {
        var lines = new List<string>();
        string[] images = { "image_0_320x240.png", "image_1_200x300.png", "image_2_512x288.png" };
        var rng = new Random(4);
        foreach (var img in images)
        {
            var path = FixtureData.PathOf(img);
            var im = ImageLoader.Load(path);
            foreach (var (phrase, cat) in new[] { ("qdaw qdwd qdkw", "attribute"), ("qdbs qcqi", "spatial") })
            {
                int x1 = rng.Next(im.Width / 2), y1 = rng.Next(im.Height / 2);
                var box = new Box(x1, y1, x1 + im.Width / 2, y1 + im.Height / 2);
                lines.Add(GroundingSampleFile.ToJsonLine(new GroundingSample(path, phrase, box, cat)));
            }
        }
        var file = Path.Combine(dir, "val.jsonl");
        File.WriteAllLines(file, lines);
        return file;
    }

    private static string[] Args(string data, string outDir, params string[] extra) =>
        new[] { "eval", "--data", data, "--split", "val", "--checkpoint", FixtureData.PathOf("checkpoint.pth"), "--config", Cli("groundsharp-config.json"),
                "--vocab", Cli("vocab.txt"), "--out", outDir }.Concat(extra).ToArray();

    private static EvalReport Read(string path) => JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(path), EvalReport.Json)!;

    [Fact]
    public void EvalCountsHitsLikeTheGrounderAndShardsMergeToTheWhole()
    {
        var dir = CliProcess.TempDir();
        var data = WriteDataset(dir);

        var whole = CliProcess.Run(Args(data, Path.Combine(dir, "whole")));
        Assert.True(whole.ExitCode == 0, whole.StdErr);
        var report = Read(Path.Combine(dir, "whole", "report.json"));
        Assert.Equal(6, report.Items);
        Assert.Equal(3, report.Images);
        Assert.Contains(report.Pointing.Categories, c => c.Name == "spatial" && c.Total == 3);
        Assert.True(File.Exists(Path.Combine(dir, "whole", "report.md")));

        // The same counts computed directly with the library.
        using var model = FixtureModel.Load();
        var grounder = new Grounder(model, AlbefTokenizer.FromVocab(Cli("vocab.txt")));
        int hits = 0;
        foreach (var group in GroundingEvaluator.GroupByImage(GroundingEvaluator.FromSampleFile(data, "val")))
        {
            var results = grounder.Ground(ImageLoader.Load(group[0].ImagePath), group.Select(g => g.Text).ToList());
            hits += group.Zip(results).Count(p => PointingGame.IsHit(p.Second.Point, p.First.GtBoxes));
        }
        Assert.Equal(hits, report.Pointing.Overall.Hits);

        // Four shards as separate processes, as a Slurm array or a Kubernetes Indexed Job runs them (docs/distributed-eval.md):
        // with three images one shard is empty, which must not fail the array.
        var shards = Enumerable.Range(0, 4).Select(i => CliProcess.Run(Args(data, Path.Combine(dir, "shards"), "--shard", $"{i}/4"))).ToList();
        Assert.All(shards, r => Assert.True(r.ExitCode == 0, r.StdErr));
        var merged = CliProcess.Run(new[] { "eval", "merge", "--out", Path.Combine(dir, "merged") }
            .Concat(Enumerable.Range(0, 4).Select(i => Path.Combine(dir, "shards", $"report-shard{i}of4.json"))).ToArray());
        Assert.True(merged.ExitCode == 0, merged.StdErr);
        var m = Read(Path.Combine(dir, "merged", "report.json"));
        Assert.Equal(report.Items, m.Items);
        Assert.Equal(report.Pointing.Overall, m.Pointing.Overall);
        Assert.Equal(report.Pointing.Categories.OrderBy(c => c.Name), m.Pointing.Categories.OrderBy(c => c.Name));
    }

    [Fact]
    public void SavePredictions_WritesOneLinePerPhrase_AndMergeJoinsTheShards()
    {
        var dir = CliProcess.TempDir();
        var data = WriteDataset(dir);
        var whole = CliProcess.Run(Args(data, Path.Combine(dir, "whole"), "--save-predictions", "--prediction-maps"));
        Assert.True(whole.ExitCode == 0, whole.StdErr);
        var report = Read(Path.Combine(dir, "whole", "report.json"));
        var lines = File.ReadAllLines(Path.Combine(dir, "whole", "predictions.jsonl"));
        Assert.Equal(6, lines.Length);
        var items = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(report.Pointing.Overall.Hits, items.Count(i => i.GetProperty("hit").GetBoolean()));
        foreach (var i in items)
        {
            Assert.True(File.Exists(i.GetProperty("image").GetString()));
            Assert.Contains(i.GetProperty("phrase").GetString(), new[] { "qdaw qdwd qdkw", "qdbs qcqi" });
            Assert.Equal(2, i.GetProperty("point").GetArrayLength());
            Assert.Equal(4, i.GetProperty("gtBoxes")[0].GetArrayLength());
            var grid = i.GetProperty("gridSize");
            Assert.Equal(grid[0].GetInt32() * grid[1].GetInt32(), i.GetProperty("gridMap").GetArrayLength());
        }

        foreach (var s in new[] { "0/2", "1/2" })
            Assert.Equal(0, CliProcess.Run(Args(data, Path.Combine(dir, "shards"), "--shard", s, "--save-predictions", "--prediction-maps")).ExitCode);
        string[] shardReports = { Path.Combine(dir, "shards", "report-shard0of2.json"), Path.Combine(dir, "shards", "report-shard1of2.json") };
        var merged = CliProcess.Run(new[] { "eval", "merge", "--out", Path.Combine(dir, "merged") }.Concat(shardReports).ToArray());
        Assert.True(merged.ExitCode == 0, merged.StdErr);
        Assert.Equal(lines.Order(), File.ReadAllLines(Path.Combine(dir, "merged", "predictions.jsonl")).Order());

        // A shard without predictions cannot be merged with ones that have them; maps need the predictions.
        File.Delete(Path.Combine(dir, "shards", "predictions-shard1of2.jsonl"));
        var partial = CliProcess.Run(new[] { "eval", "merge", "--out", Path.Combine(dir, "merged2") }.Concat(shardReports).ToArray());
        Assert.Equal(2, partial.ExitCode);
        Assert.Contains("predictions-shard1of2.jsonl not found", partial.StdErr);
        var maps = CliProcess.Run(Args(data, Path.Combine(dir, "maps"), "--prediction-maps"));
        Assert.Equal(2, maps.ExitCode);
        Assert.Contains("only with --save-predictions", maps.StdErr);
    }

    [Fact]
    public void BadArgumentsGiveOneErrorLine()
    {
        var dir = CliProcess.TempDir();
        var data = WriteDataset(dir);
        foreach (var (args, message) in new[]
        {
            (Args(data, dir, "--shard", "2/2"), "--shard"),
            (Args(Path.Combine(dir, "nope.jsonl"), dir), "not found"),
            (Args(data, dir, "--proposals"), "no proposals"),
        })
        {
            var r = CliProcess.Run(args);
            Assert.Equal(2, r.ExitCode);
            Assert.StartsWith("error:", r.StdErr.Split('\n').First(l => l.StartsWith("error:")));
            Assert.Contains(message, r.StdErr);
            Assert.DoesNotContain("   at ", r.StdErr);
        }
        var same = CliProcess.Run("eval", "merge", "--out", dir, Path.Combine(dir, "missing.json"));
        Assert.Equal(2, same.ExitCode);
    }

    [Fact]
    public void Flickr30kFolderIsDetectedAndEvaluatedPerEntityType()
    {
        var root = FixtureData.PathOf(Path.Combine("..", "benchmarks", "flickr30k"));
        var images = CliProcess.TempDir();
        foreach (var xml in Directory.GetFiles(Path.Combine(root, "Annotations"), "*.xml"))
        {
            var ann = GroundSharp.Data.Benchmarks.Flickr30kEntities.ReadAnnotation(xml);
            var rgb = new byte[ann.Width * ann.Height * 3];
            new Random(1).NextBytes(rgb);
            using var bmp = new RgbImage(ann.Width, ann.Height, rgb).ToSKBitmap();
            using var png = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(images, Path.GetFileNameWithoutExtension(xml) + ".jpg"), png.ToArray());
        }
        var outDir = CliProcess.TempDir();
        var r = CliProcess.Run("eval", "--data", root, "--split", "test", "--image-root", images, "--checkpoint", FixtureData.PathOf("checkpoint.pth"),
            "--config", Cli("groundsharp-config.json"), "--vocab", Cli("vocab.txt"), "--out", outDir);
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        var report = Read(Path.Combine(outDir, "report.json"));
        Assert.StartsWith("flickr30k:", report.Dataset);
        Assert.True(report.Items > 0);
        Assert.All(report.Pointing.Categories, c => Assert.Contains(c.Name, GroundSharp.Data.Benchmarks.Flickr30kEntities.EntityTypes));
    }
}
