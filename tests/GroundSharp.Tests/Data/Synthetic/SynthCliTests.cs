using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Data.Synthetic;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Data.Synthetic;

[Trait("Category", "EndToEnd")]
public class SynthCliTests
{
    [Fact]
    public void CliTinyWritesTheLayoutAndManifest()
    {
        var dir = CliProcess.TempDir();
        var r = CliProcess.Run("synth", "--tiny", "--seed", "3", "--out", dir, "--val", "2");
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("test-compositional", r.StdOut);
        Assert.Contains("synth: boxes:", r.StdErr);
        foreach (var f in new[] { "pretrain.jsonl", "boxes.jsonl", "val.jsonl", "test.jsonl", "test-compositional.jsonl", "synth.json",
                                  "flickr/val.txt", "flickr/test.txt", "flickr/test-compositional.txt" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.Equal(12, Directory.GetFiles(Path.Combine(dir, "images", "pretrain"), "*.png").Length);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "images", "val"), "*.png").Length);
        Assert.Equal(2 + 4 + 4, Directory.GetFiles(Path.Combine(dir, "flickr", "Images"), "*.png").Length);

        var pretrain = GroundingSampleFile.Read(Path.Combine(dir, "pretrain.jsonl")).ToList();
        Assert.Equal(12, pretrain.Count);
        Assert.All(pretrain, s => { Assert.Null(s.Box); Assert.True(File.Exists(s.ImagePath), s.ImagePath); });
        var boxes = GroundingSampleFile.Read(Path.Combine(dir, "boxes.jsonl")).ToList();
        Assert.All(boxes, s => Assert.Matches("^(attribute|spatial|relational)/[a-z]+$", s.Source));
        Assert.All(boxes, s => Assert.NotNull(s.Box));
        foreach (var (colour, shape) in CompositionalHoldOut.Pairs)
            Assert.DoesNotContain(boxes, s => (" " + s.Text).Contains($" {colour.Name} {Words.Of(shape)}"));

        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "synth.json")));
        var m = manifest.RootElement;
        Assert.Equal(SynthBenchmark.GeneratorVersion, m.GetProperty("generator").GetString());
        Assert.Equal(3, m.GetProperty("seed").GetInt32());
        Assert.Equal(2, m.GetProperty("knobs").GetProperty("val").GetInt32());
        Assert.Equal(8, m.GetProperty("held_out_pairs").GetArrayLength());
        Assert.Equal(boxes.Count, m.GetProperty("splits").GetProperty("boxes").GetProperty("phrases").GetInt32());

        // Writing again into the same folder replaces the earlier benchmark.
        var again = CliProcess.Run("synth", "--tiny", "--seed", "3", "--out", dir, "--val", "1");
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "images", "val"), "*.png"));
    }

    [Fact]
    public void CliBadKnobsGiveOneErrorLine()
    {
        var dir = CliProcess.TempDir();
        var r = CliProcess.Run("synth", "--tiny", "--out", dir, "--boxes", "-3");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --boxes must be between 0 and 999999 images (got -3)", r.StdErr.Trim());

        var occlusion = CliProcess.Run("synth", "--tiny", "--out", dir, "--occlusion", "1.5");
        Assert.Equal(2, occlusion.ExitCode);
        Assert.Equal("error: occlusion rate 1.5 must be between 0 and 1", occlusion.StdErr.Trim());

        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        var foreign = CliProcess.Run("synth", "--tiny", "--out", dir);
        Assert.Equal(2, foreign.ExitCode);
        Assert.StartsWith("error: ", foreign.StdErr);
        Assert.Contains("holds no synth.json", foreign.StdErr);
        Assert.Single(foreign.StdErr.Trim().Split('\n'));
    }
}
