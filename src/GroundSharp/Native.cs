namespace GroundSharp;

/// <summary>Checks that TorchSharp's native library loads and explains how to fix it when not.</summary>
public static class TorchRuntime
{
    /// <summary>Loads libtorch (once) and returns its version string; throws with an actionable message.</summary>
    public static string EnsureLoaded()
    {
        try
        {
            using var t = TorchSharp.torch.ones(1);
            return TorchSharp.torch.__version__;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            throw new InvalidOperationException(
                "TorchSharp's native library failed to load. On Debian 12 / Ubuntu 22.04 the build marks the " +
                "GLIBCXX_3.4.32 version need of libLibTorchSharp.so weak; run 'dotnet build' again (it re-applies the fix) " +
                "and see docs/torchsharp-native.md. Inner error: " + (e.InnerException?.Message ?? e.Message), e);
        }
    }
}
