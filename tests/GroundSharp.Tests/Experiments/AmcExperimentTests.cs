using System.Text.Json;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Experiments;

[Trait("Category", "EndToEnd")]
public class AmcExperimentTests
{
    [Fact]
    public void QuickExperimentRunsEveryStageWritesResultsAndContinuesFromItsFolder()
    {
        var dir = CliProcess.TempDir();
        var r = CliProcess.Run("experiment", "amc", "--quick", "--out", dir);
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        foreach (var stage in new[] { "pretrain-tags", "pretrain-itc", "pretrain", "finetune-control", "finetune-mean-and-max", "finetune-cosine" })
            Assert.True(File.Exists(Path.Combine(dir, "runs", stage, "stage.json")), stage);
        // The unimodal stage trains the visual encoder on tags alone; the region phrases join the captions without boxes.
        Assert.All(File.ReadAllLines(Path.Combine(dir, "runs", "pretrain-tags", "metrics.jsonl")), line => { Assert.Contains("\"tags\"", line); Assert.DoesNotContain("\"itc\"", line); });
        Assert.All(File.ReadAllLines(Path.Combine(dir, "data", "boxes-as-captions.jsonl")), line => Assert.Contains("\"box\":null", line));
        // The warm-up trains ITC only; the pre-training starts from it with all of ALBEF's objectives.
        var warmup = File.ReadAllLines(Path.Combine(dir, "runs", "pretrain-itc", "metrics.jsonl"));
        Assert.All(warmup, line => { Assert.Contains("\"itc\"", line); Assert.DoesNotContain("\"itm\"", line); Assert.DoesNotContain("\"mlm\"", line); });
        Assert.Contains(File.ReadAllLines(Path.Combine(dir, "runs", "pretrain", "metrics.jsonl")), line => line.Contains("\"mlm\""));
        var md = File.ReadAllText(Path.Combine(dir, "results.md"));
        Assert.Contains("| model | val | test | test-compositional |", md);
        Assert.Contains("AMC (L_mean + L_max)", md);
        Assert.Contains("| *reference, phrase-blind: the centre of a random annotated object of the image* | ", md);
        Assert.Contains("Pair accuracy (%)", md);
        Assert.Contains("Learning curves, val split", md);
        Assert.Contains("| 2 | ", md);
        Assert.True(File.Exists(Path.Combine(dir, "runs", "finetune-control", "curve.json")));
        Assert.True(File.Exists(Path.Combine(dir, "heatmaps-before-after.png")));
        // The exported default model loads and says where it came from.
        var exported = Path.Combine(dir, "default-model", "model.safetensors");
        var (_, metadata) = GroundSharp.IO.SafeTensors.Load(exported);
        Assert.Equal("finetune-mean-and-max", metadata["stage"]);
        Assert.Contains("experiment amc", metadata["command"]);
        var loaded = GroundSharp.Models.AlbefLoader.Load(exported);
        Assert.True(loaded.Report.IsClean);
        loaded.Model.Dispose();
        Assert.Contains("produced by", File.ReadAllText(Path.Combine(dir, "default-model", "PROVENANCE.md")));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
        Assert.Equal(4, results.RootElement.GetProperty("rows").GetArrayLength());

        // A second run reuses the data and every finished stage.
        var again = CliProcess.Run("experiment", "amc", "--quick", "--out", dir);
        Assert.True(again.ExitCode == 0, again.StdErr + again.StdOut);
        Assert.Contains("reusing the synthetic benchmark", again.StdOut);
        Assert.Contains("pretrain: reusing", again.StdOut);
        Assert.DoesNotContain("steps 1..", again.StdOut);

        // Other knobs in the same folder: a clear error, not a silent reuse of stages trained differently.
        var changed = CliProcess.Run("experiment", "amc", "--quick", "--out", dir, "--finetune-steps", "3");
        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("the 'finetune-control' stage there was trained with other settings (steps: 2 → 3)", changed.StdErr);
        // The default model has the conv patch stem; `--conv-patch-stem false` asks for ALBEF's linear one, trained anew.
        var linear = CliProcess.Run("experiment", "amc", "--quick", "--out", dir, "--conv-patch-stem", "false");
        Assert.Equal(2, linear.ExitCode);
        Assert.Contains("the 'pretrain-tags' stage there was trained with other settings", linear.StdErr);
        Assert.Contains("patch_stem", linear.StdErr);
    }

    [Theory]
    [InlineData("--pretrain-steps", "0", "error: --pretrain-steps must be > 0")]
    [InlineData("--itc-warmup-steps", "-1", "error: --itc-warmup-steps must be >= 0")]
    [InlineData("--caption-images", "0", "error: --caption-images must be > 0")]
    [InlineData("--gradcam-layer", "9", "error: --gradcam-layer: gradcam_layer (9) must be a fusion layer, in [1, 3)")]
    public void BadKnobsAreOneErrorLine(string option, string value, string expected)
    {
        var r = CliProcess.Run("experiment", "amc", "--quick", option, value, "--out", CliProcess.TempDir());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.StdErr);
    }
}
