using System.Runtime.InteropServices;

namespace GroundSharp;

/// <summary>
/// TorchSharp turns C# numbers into native <c>Scalar</c>s implicitly and leaves them to the finaliser, which can free
/// one while a native call still reads it; libtorch then fails in <c>Scalar::toFloat</c>/<c>to&lt;T&gt;</c> ("Unknown
/// scalar type", "Expected false to be true"). The failed call's state is garbage, but the work can be redone
/// (docs/torchsharp-native.md). This is the one place that recognises the error and retries work.
/// </summary>
public static class TransientNativeError
{
    /// <summary>How many times one piece of work is redone before the error is let through.</summary>
    public const int DefaultRetries = 5;

    public static bool IsTransient(Exception e) =>
        e is ExternalException && (e.Message.Contains("Scalar.h", StringComparison.Ordinal)
            || e.Message.Contains("Unknown scalar type", StringComparison.Ordinal) || e.Message.Contains("toFloat", StringComparison.Ordinal));

    /// <summary>The warning a retry reports.</summary>
    public static string Warning(int attempt, int retries, string from) =>
        $"warning: libtorch reported a corrupted Scalar (a known TorchSharp finaliser race, docs/torchsharp-native.md); retry {attempt} of {retries} from {from}";

    /// <summary>Lets the finaliser run now, so that the retry does not start next to the pending collection.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>
    /// Runs <paramref name="work"/>; on the transient error, warns and runs it again from the beginning, at most
    /// <paramref name="retries"/> times. The work must be deterministic (seeded) so that a redo gives the same result.
    /// </summary>
    public static void Retry(string what, Action work, Action<string> log, int retries = DefaultRetries) =>
        Retry(what, () => { work(); return true; }, log, retries);

    /// <inheritdoc cref="Retry(string, Action, Action{string}, int)"/>
    public static T Retry<T>(string what, Func<T> work, Action<string> log, int retries = DefaultRetries)
    {
        for (int failures = 0; ; failures++)
        {
            try
            {
                return work();
            }
            catch (Exception e) when (IsTransient(e) && failures < retries)
            {
                log(Warning(failures + 1, retries, $"the start of {what}"));
                Settle();
            }
        }
    }
}
