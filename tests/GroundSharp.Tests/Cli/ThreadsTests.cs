using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary>The thread policy: --threads, then GROUNDSHARP_THREADS, then OMP_NUM_THREADS (libtorch's), then the usable cores.</summary>
public class ThreadsTests
{
    [Fact]
    public void Resolve_TakesTheOption_ThenTheVariable_ThenLeavesOmpToLibtorch_ElseTheUsableCores()
    {
        Assert.Equal(3, TorchThreads.Resolve(3, "5", "7"));
        Assert.Equal(5, TorchThreads.Resolve(null, " 5 ", "7"));
        Assert.Null(TorchThreads.Resolve(null, null, "7"));
        Assert.Equal(Environment.ProcessorCount, TorchThreads.Resolve(null, "", null));
        Assert.Contains("--threads must be a positive integer, got 0", Assert.Throws<GroundSharpException>(() => TorchThreads.Resolve(0, null, null)).Message);
        Assert.Contains("GROUNDSHARP_THREADS must be a positive integer, got 'two'", Assert.Throws<GroundSharpException>(() => TorchThreads.Resolve(null, "two", null)).Message);
    }

    [Fact]
    public void ThreadsOption_ReachesLibtorch_BeforeOrAfterTheCommand_AndABadOneIsOneErrorLine()
    {
        var r = CliProcess.Run("--threads", "1", "bench", "--only", "heatmaps", "--size", "tiny", "--phrases", "1", "--images", "1", "--naive-pairs", "1", "--repeats", "1");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains(", 1 threads", r.StdOut);
        var bad = CliProcess.Run("ground", "--threads", "0", "--image", "x.png", "--text", "a");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("error: --threads must be a positive integer, got 0", bad.StdErr.Trim());
    }
}
