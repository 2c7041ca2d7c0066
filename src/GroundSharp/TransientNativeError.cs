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

    /// <summary>
    /// Environment variable capping the retries of every piece of work: <c>GROUNDSHARP_NATIVE_RETRIES=0</c> turns them off,
    /// so the error stops the work (a soak run measures whether it still fires).
    /// </summary>
    public const string RetriesVariable = "GROUNDSHARP_NATIVE_RETRIES";

    private static int _redone;

    /// <summary>How many pieces of work this process has redone after the error (each redo counted once).</summary>
    public static int Redone => Volatile.Read(ref _redone);

    private static int Cap(int retries) =>
        int.TryParse(Environment.GetEnvironmentVariable(RetriesVariable), out int cap) && cap >= 0 ? Math.Min(cap, retries) : retries;

    private static bool IsTransient(Exception e) =>
        e is ExternalException && (e.Message.Contains("Scalar.h", StringComparison.Ordinal)
            || e.Message.Contains("Unknown scalar type", StringComparison.Ordinal) || e.Message.Contains("toFloat", StringComparison.Ordinal));

    /// <summary>
    /// Runs <paramref name="work"/>; on the transient error, warns and runs it again from the beginning, at most
    /// <paramref name="retries"/> times. The work must be deterministic (seeded) so that a redo gives the same result.
    /// </summary>
    public static void Retry(string what, Action work, Action<string> log, int retries = DefaultRetries) =>
        Retry(what, () => { work(); return true; }, log, retries);

    /// <inheritdoc cref="Retry(string, Action, Action{string}, int)"/>
    public static T Retry<T>(string what, Func<T> work, Action<string> log, int retries = DefaultRetries) =>
        Retry(work, () => $"the start of {what}", log, retries);

    /// <summary>
    /// Runs <paramref name="work"/>; on the transient error, calls <paramref name="prepareRedo"/> (which sets up where the
    /// redo continues from and names it for the warning), warns, and runs <paramref name="work"/> again — at most
    /// <paramref name="retries"/> times; then the error is let through.
    /// </summary>
    public static T Retry<T>(Func<T> work, Func<string> prepareRedo, Action<string> log, int retries)
    {
        retries = Cap(retries);
        for (int failures = 0; ; failures++)
        {
            try
            {
                return work();
            }
            catch (Exception e) when (IsTransient(e) && failures < retries)
            {
                string from = prepareRedo();
                Interlocked.Increment(ref _redone);
                log("warning: libtorch reported a corrupted Scalar (a known TorchSharp finaliser race, docs/torchsharp-native.md); " +
                    $"retry {failures + 1} of {retries} from {from}");
                GC.Collect();
                GC.WaitForPendingFinalizers(); // let the finaliser run now, not in the middle of the redo
            }
        }
    }
}
