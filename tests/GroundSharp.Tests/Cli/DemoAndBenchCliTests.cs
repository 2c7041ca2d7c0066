using Xunit;

namespace GroundSharp.Tests.Cli;

[Trait("Category", "EndToEnd")]
public class DemoAndBenchCliTests
{
    [Fact]
    public void DemoRunsEndToEndAndSaysWhichModelItUses()
    {
        var dir = CliProcess.TempDir();
        var r = CliProcess.Run("demo", "--out", dir);
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("pointing accuracy", r.StdOut);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        if (GroundSharp.Models.DefaultModel.Locate() is null)
        {
            Assert.Contains("randomly", r.StdOut);
            Assert.Contains("random weights", report);
        }
        else
        {
            Assert.Contains("trained with AMC", r.StdOut);
            Assert.Contains("trained with AMC", report);
        }
        Assert.Equal(3 + 9, Directory.GetFiles(dir, "*.png").Length); // 3 scenes + 3 overlays each
    }

    [Fact]
    public void BenchRunsOnTheTinyModelAndReportsSpeedUps()
    {
        // Every section, on the tiny model with the smallest knobs: each prints its table with its baseline and goal.
        var r = CliProcess.Run("bench", "--size", "tiny", "--phrases", "1,4", "--images", "2", "--naive-pairs", "1", "--repeats", "1",
            "--train-steps", "1", "--worker-seconds", "1");
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("1 image x 4 phrases", r.StdOut);
        Assert.Contains("speed-up", r.StdOut);
        Assert.Matches(@"max rel diff 0\.00E\+000|max rel diff [0-9.]+E-0[0-9]{2}", r.StdOut);
        Assert.Contains("one ViT forward", r.StdOut);
        Assert.Contains("12 MP (4000x3000)", r.StdOut);
        Assert.Contains("AlbefLoader.Load", r.StdOut);
        Assert.Contains("experiment amc's small model, batch 24", r.StdOut);
        Assert.Contains("argmax agreement", r.StdOut);
        Assert.Contains("side by side / (2 x alone)", r.StdOut);
        Assert.Matches(@"goal <= [0-9.]+x: (met|NOT met)", r.StdOut);
    }

    [Fact]
    public void BenchRejectsBadArguments()
    {
        var r = CliProcess.Run("bench", "--size", "huge");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("error: --size must be base or tiny", r.StdErr);
        var section = CliProcess.Run("bench", "--only", "heatmaps,nope");
        Assert.Equal(2, section.ExitCode);
        Assert.Contains("error: --only: unknown section 'nope'", section.StdErr);
        var dtype = CliProcess.Run("bench", "--dtype", "fp8");
        Assert.Equal(2, dtype.ExitCode);
        Assert.Contains("error: --dtype must be fp32 or bf16", dtype.StdErr);
    }
}
