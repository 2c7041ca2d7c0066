using System.Collections.Concurrent;

namespace GroundSharp.Web;

/// <summary>
/// Runs model work one item at a time on one dedicated thread. GradCAM keeps per-call state in the model's
/// attention layers and TorchSharp's no-grad and dispose scopes are per thread, so a model instance must never
/// be used by two requests at once; request threads only wait on the returned task.
/// </summary>
public sealed class ModelWorker : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public ModelWorker(string name)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            // A client that went away while waiting costs no inference.
            if (cancellationToken.IsCancellationRequested) { done.TrySetCanceled(cancellationToken); return; }
            try { done.TrySetResult(work()); }
            catch (Exception e) { done.TrySetException(e); }
        }, CancellationToken.None);
        return done.Task;
    }

    private void Loop()
    {
        foreach (var item in _work.GetConsumingEnumerable()) item();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(30));
        _work.Dispose();
    }
}
