using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using GroundSharp.Web;
using Xunit;

namespace GroundSharp.Tests.Web;

/// <summary>A real Kestrel server on 127.0.0.1 with a free port, serving the fixture model (or the demo model).</summary>
public sealed class WebTestServer : IAsyncDisposable
{
    private readonly ServedModel _model;

    private WebTestServer(ServedModel model, GroundingServer server, string baseUrl)
    {
        _model = model;
        Server = server;
        BaseUrl = baseUrl;
        Client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(2) };
    }

    public GroundingServer Server { get; }
    public string BaseUrl { get; }
    public HttpClient Client { get; }

    public static ServedModel FixtureModel() => ServedModels.Load(
        FixtureData.PathOf("checkpoint.pth"), FixtureData.PathOf("cli/groundsharp-config.json"), FixtureData.PathOf("cli/vocab.txt"), "cpu");

    public static async Task<WebTestServer> StartAsync(ServeOptions options, ServedModel? model = null)
    {
        model ??= FixtureModel();
        var server = GroundingServer.Create(model, options with { Urls = "http://127.0.0.1:0" });
        await server.StartAsync();
        var address = Assert.Single(server.Addresses);
        Assert.StartsWith("http://127.0.0.1:", address);
        return new WebTestServer(model, server, address);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        _model.Dispose();
    }
}

/// <summary>One fixture-model server shared by the API tests of a class (1 MiB upload limit, to test 413 cheaply).</summary>
public sealed class FixtureServer : IAsyncLifetime
{
    public const long UploadLimit = 1024 * 1024;
    public WebTestServer Web { get; private set; } = null!;

    public async Task InitializeAsync() => Web = await WebTestServer.StartAsync(new ServeOptions { MaxUploadBytes = UploadLimit });

    public async Task DisposeAsync() => await Web.DisposeAsync();
}
