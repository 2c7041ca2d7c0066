using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using GroundSharp.IO;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.IO;

/// <summary>
/// The model registry against a local HTTP server on 127.0.0.1 serving the fixture checkpoint: a transfer cut in
/// the middle resumes with a Range request, a corrupted or wrong-sized file is refused, 404 and HTML pages are
/// refused, and the pulled name works as --checkpoint.
/// </summary>
public sealed class ModelRegistryTests : IDisposable
{
    private static readonly byte[] Checkpoint = File.ReadAllBytes(FixtureData.PathOf("checkpoint.pth"));
    private static readonly string Sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Checkpoint));

    private readonly TestServer _server = new();
    private readonly string _home = CliProcess.TempDir();

    public void Dispose() => _server.Dispose();

    private ModelRegistry Registry(params RegisteredModel[] models) => new(models, _home, "test manifest");

    private RegisteredModel Model(string route, long? size = null, string? sha = null) => new()
    {
        Name = "tiny", Kind = "albef", Url = _server.Url(route), FileName = "checkpoint.pth", SizeBytes = size, Sha256 = sha,
    };

    private static async Task<string> PullAsync(ModelRegistry registry) => await registry.PullAsync("tiny", new HttpClient());

    [Fact]
    public async Task AFirstPull_RecordsSizeAndSha_AndAPathCheckFollows()
    {
        var registry = Registry(Model("/ok", size: Checkpoint.Length));
        var path = await PullAsync(registry);
        Assert.Equal(Checkpoint, File.ReadAllBytes(path));
        var record = registry.RecordOf(registry.Get("tiny"))!;
        Assert.Equal((Checkpoint.LongLength, Sha), (record.SizeBytes, record.Sha256));
        Assert.Equal(path, registry.LocalPath("tiny"));
        Assert.Empty(Directory.GetFiles(registry.FolderOf(registry.Get("tiny")), "*.partial"));

        // Pulling again downloads nothing and checks the SHA-256; a changed file is then refused.
        int requests = _server.Requests.Count;
        Assert.Equal(path, await PullAsync(registry));
        Assert.Equal(requests, _server.Requests.Count);
        var bytes = File.ReadAllBytes(path);
        bytes[100] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var e = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(registry));
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public async Task AnInterruptedTransfer_ResumesWithARangeRequest()
    {
        var registry = Registry(Model("/cut", size: Checkpoint.Length, sha: Sha));
        var first = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(registry));
        Assert.Contains("run the pull again to resume", first.Message);
        var partial = Directory.GetFiles(registry.FolderOf(registry.Get("tiny")), "*.partial").Single();
        long kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, Checkpoint.Length - 1);

        var path = await PullAsync(registry);
        Assert.Equal(Checkpoint, File.ReadAllBytes(path));
        Assert.Equal($"bytes={kept}-", _server.Requests.Last().Range);
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task ACorruptedTransfer_IsRefusedAndDeleted()
    {
        var registry = Registry(Model("/corrupt", sha: Sha));
        var e = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(registry));
        Assert.Contains("SHA-256", e.Message);
        Assert.Contains("corrupt", e.Message);
        Assert.Empty(Directory.GetFiles(registry.FolderOf(registry.Get("tiny"))));
    }

    [Fact]
    public async Task AWrongSize_IsRefused()
    {
        var registry = Registry(Model("/ok", size: Checkpoint.Length + 1));
        var e = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(registry));
        Assert.Contains($"announces {Checkpoint.Length} bytes", e.Message);
        Assert.False(File.Exists(registry.PathOf(registry.Get("tiny"))));

        // A server that announces no length: the size is checked once the body is in.
        var unannounced = Registry(Model("/chunked", size: Checkpoint.Length + 1));
        var e2 = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(unannounced));
        Assert.Contains("is not the published one", e2.Message);
        Assert.Empty(Directory.GetFiles(unannounced.FolderOf(unannounced.Get("tiny"))));
    }

    [Theory]
    [InlineData("/missing", "answered 404")]
    [InlineData("/html", "answered an HTML page")]
    public async Task ADeadLinkOrAnHtmlPage_IsRefused(string route, string message)
    {
        var registry = Registry(Model(route));
        var e = await Assert.ThrowsAsync<GroundSharpException>(() => PullAsync(registry));
        Assert.Contains(message, e.Message);
        Assert.False(File.Exists(registry.PathOf(registry.Get("tiny"))));
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void Cli_PullsThenGroundsWithTheName_AndRefusesUnknownNames()
    {
        var manifest = Path.Combine(_home, "manifest.json");
        File.WriteAllText(manifest, JsonSerializer.Serialize(new
        {
            models = new[] { new { name = "tiny-a", kind = "albef", url = _server.Url("/ok"), file_name = "checkpoint.pth", size_bytes = Checkpoint.Length, sha256 = Sha } },
        }));
        var env = new Dictionary<string, string> { [ModelRegistry.HomeVariable] = _home, [ModelRegistry.ManifestVariable] = manifest };

        var notYet = CliProcess.RunWithEnvironment(env, "models", "path", "tiny-a");
        CliProcess.AssertCleanError(notYet, "not downloaded", "models pull tiny-a");
        var pull = CliProcess.RunWithEnvironment(env, "models", "pull", "tiny-a");
        Assert.True(pull.ExitCode == 0, pull.StdErr);
        var path = CliProcess.RunWithEnvironment(env, "models", "path", "tiny-a");
        Assert.Equal(Path.Combine(_home, "models", "tiny-a", "checkpoint.pth"), path.StdOut.Trim());
        Assert.Contains("yes", CliProcess.RunWithEnvironment(env, "models", "list").StdOut);

        string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));
        var outDir = CliProcess.TempDir();
        var ground = CliProcess.RunWithEnvironment(env, "ground", "--checkpoint", "tiny-a", "--config", Cli("groundsharp-config.json"), "--vocab", Cli("vocab.txt"),
            "--image", Cli("image_0_256.png"), "--text", "a dog", "--out", outDir);
        Assert.True(ground.ExitCode == 0, ground.StdErr);
        Assert.True(File.Exists(Path.Combine(outDir, "results.json")));

        CliProcess.AssertCleanError(CliProcess.RunWithEnvironment(env, "models", "pull", "nope"), "no model named 'nope'", "tiny-a");
    }

    /// <summary>An HttpListener on a free 127.0.0.1 port; routes: /ok (Range-aware), /cut (stops halfway once), /corrupt, /chunked, /html, /missing.</summary>
    private sealed class TestServer : IDisposable
    {
        public sealed record Request(string Path, string? Range);

        private readonly HttpListener _listener = new();
        private readonly int _port;
        private bool _cutDone;
        public List<Request> Requests { get; } = new();

        public TestServer()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            _port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
            _listener.Start();
            _ = Task.Run(Loop);
        }

        public string Url(string route) => $"http://127.0.0.1:{_port}{route}";

        private async Task Loop()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception) { return; }
                try { Serve(context); }
                catch (Exception) { try { context.Response.Abort(); } catch (Exception) { } }
            }
        }

        private void Serve(HttpListenerContext context)
        {
            var path = context.Request.Url!.AbsolutePath;
            var range = context.Request.Headers["Range"];
            lock (Requests) Requests.Add(new Request(path, range));
            var response = context.Response;
            response.ContentType = "application/octet-stream";
            long start = range is not null && range.StartsWith("bytes=") ? long.Parse(range[6..].TrimEnd('-')) : 0;
            switch (path)
            {
                case "/missing":
                    response.StatusCode = 404;
                    response.Close();
                    return;
                case "/html":
                    response.ContentType = "text/html; charset=utf-8";
                    var page = "<!DOCTYPE html><html><body>Sign in to continue</body></html>"u8.ToArray();
                    response.ContentLength64 = page.Length;
                    response.OutputStream.Write(page);
                    response.Close();
                    return;
                case "/cut" when !_cutDone:
                    _cutDone = true;
                    response.ContentLength64 = Checkpoint.Length;
                    response.OutputStream.Write(Checkpoint, 0, Checkpoint.Length / 2);
                    response.OutputStream.Flush();
                    response.Abort(); // the connection drops halfway
                    return;
                case "/corrupt":
                    var bad = (byte[])Checkpoint.Clone();
                    bad[bad.Length / 3] ^= 0x01;
                    response.ContentLength64 = bad.Length;
                    response.OutputStream.Write(bad);
                    response.Close();
                    return;
                case "/chunked":
                    response.SendChunked = true;
                    response.OutputStream.Write(Checkpoint);
                    response.Close();
                    return;
                default: // /ok and the resumed /cut
                    if (start > 0)
                    {
                        response.StatusCode = 206;
                        response.Headers["Content-Range"] = $"bytes {start}-{Checkpoint.Length - 1}/{Checkpoint.Length}";
                    }
                    response.ContentLength64 = Checkpoint.Length - start;
                    response.OutputStream.Write(Checkpoint, (int)start, (int)(Checkpoint.Length - start));
                    response.Close();
                    return;
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
        }
    }
}
