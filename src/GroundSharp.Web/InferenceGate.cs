namespace GroundSharp.Web;

/// <summary>
/// Admission control: at most <c>concurrency</c> requests are processed at once and at most <c>queue</c> more
/// wait for a slot; anything beyond is refused at once (the caller answers 503), so the backlog stays bounded.
/// </summary>
public sealed class InferenceGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _capacity;
    private int _admitted;

    public InferenceGate(int concurrency, int queue)
    {
        if (concurrency < 1) throw new ArgumentOutOfRangeException(nameof(concurrency));
        if (queue < 0) throw new ArgumentOutOfRangeException(nameof(queue));
        Concurrency = concurrency;
        QueueLength = queue;
        _capacity = concurrency + queue;
        _slots = new SemaphoreSlim(concurrency, concurrency);
    }

    public int Concurrency { get; }
    public int QueueLength { get; }
    /// <summary>Requests holding a slot or waiting for one.</summary>
    public int Admitted => Volatile.Read(ref _admitted);
    public int Running => Concurrency - _slots.CurrentCount;
    public int Waiting => Math.Max(0, Admitted - Running);

    /// <summary>A lease to dispose when the request is done, or null when the gate and its queue are full.</summary>
    public async Task<IDisposable?> TryEnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > _capacity)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        return new Lease(this);
    }

    private void Exit()
    {
        _slots.Release();
        Interlocked.Decrement(ref _admitted);
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Lease(InferenceGate gate) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Exit();
        }
    }
}
