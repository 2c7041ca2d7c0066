using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GroundSharp.Web;
using Xunit;

namespace GroundSharp.Tests.Web;

/// <summary>The bounded queue: requests beyond running + waiting get 503 with Retry-After, held deterministically.</summary>
[Trait("Category", "Web")]
public class ConcurrencyTests
{
    private static readonly object Request = new { sample = "shapes-1", phrases = new[] { "the red circle" } };

    [Fact]
    public async Task Requests_beyond_the_gate_and_its_queue_get_503_with_retry_after()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new ServeOptions
        {
            MaxConcurrency = 1,
            MaxQueue = 1,
            RetryAfterSeconds = 3,
            BeforeInference = async ct => { entered.TrySetResult(); await release.Task.WaitAsync(ct); },
        };
        await using var web = await WebTestServer.StartAsync(options);
        var timeout = TimeSpan.FromSeconds(60);

        var running = web.Client.PostAsJsonAsync("/api/ground", Request);
        await entered.Task.WaitAsync(timeout);
        var queued = web.Client.PostAsJsonAsync("/api/ground", Request);
        var deadline = DateTime.UtcNow + timeout;
        while (web.Server.Gate.Waiting < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the second request never reached the queue");
            await Task.Delay(10);
        }
        Assert.Equal(1, web.Server.Gate.Running);
        var health = await web.Client.GetFromJsonAsync<JsonElement>("/healthz");
        Assert.Equal(1, health.GetProperty("waiting").GetInt32());

        using (var refused = await web.Client.PostAsJsonAsync("/api/ground", Request))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
            var error = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.StartsWith("busy", error.GetProperty("error").GetString());
        }

        release.SetResult();
        using var first = await running.WaitAsync(timeout);
        using var second = await queued.WaitAsync(timeout);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(0, web.Server.Gate.Admitted);

        // Capacity is back once the slots are free.
        using var after = await web.Client.PostAsJsonAsync("/api/ground", Request);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Gate_admits_concurrency_plus_queue_and_frees_slots_on_dispose()
    {
        using var gate = new InferenceGate(concurrency: 1, queue: 1);
        var first = await gate.TryEnterAsync(CancellationToken.None);
        Assert.NotNull(first);
        var waiting = gate.TryEnterAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, gate.Waiting);
        Assert.Null(await gate.TryEnterAsync(CancellationToken.None));

        first!.Dispose();
        first.Dispose(); // a second dispose must not free a second slot
        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(second);
        Assert.Equal(1, gate.Running);
        Assert.Equal(0, gate.Waiting);
        second!.Dispose();
        Assert.Equal(0, gate.Admitted);
    }

    [Fact]
    public async Task Cancelled_waiter_leaves_the_queue()
    {
        using var gate = new InferenceGate(concurrency: 1, queue: 1);
        using var holder = await gate.TryEnterAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = gate.TryEnterAsync(cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(1, gate.Admitted);
    }
}
