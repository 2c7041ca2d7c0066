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

/// <summary>
/// How many intra-op threads libtorch gets. Two torch processes that each take every core spin their OpenMP threads
/// against each other (a training fell from ~55 to 2–5 samples/s beside short CLI runs), so the count is a choice:
/// the one asked for, else <see cref="EnvironmentVariable"/>, else libtorch's own reading of OMP_NUM_THREADS when that
/// is set, else the cores this process may use (<see cref="Environment.ProcessorCount"/>: affinity and container
/// CPU limits included, which OpenMP's default ignores).
/// </summary>
public static class TorchThreads
{
    public const string EnvironmentVariable = "GROUNDSHARP_THREADS";

    /// <summary>The thread count to set, or null to leave libtorch's OMP_NUM_THREADS choice.</summary>
    public static int? Resolve(int? requested, string? environment, string? ompNumThreads)
    {
        if (requested is { } r)
            return r > 0 ? r : throw new GroundSharpException($"--threads must be a positive integer, got {r}");
        if (!string.IsNullOrWhiteSpace(environment))
            return int.TryParse(environment.Trim(), out var e) && e > 0 ? e
                : throw new GroundSharpException($"{EnvironmentVariable} must be a positive integer, got '{environment}'");
        return string.IsNullOrWhiteSpace(ompNumThreads) ? Environment.ProcessorCount : null;
    }

    /// <summary>Resolves the count from the process environment and applies it (loading libtorch); returns it.</summary>
    public static int Apply(int? requested)
    {
        var threads = Resolve(requested, Environment.GetEnvironmentVariable(EnvironmentVariable), Environment.GetEnvironmentVariable("OMP_NUM_THREADS"));
        TorchRuntime.EnsureLoaded();
        if (threads is { } n) TorchSharp.torch.set_num_threads(n);
        return TorchSharp.torch.get_num_threads();
    }
}
