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

    /// <summary>A structurally valid RGB PNG whose header claims width × height, with almost no pixel data.</summary>
    public static byte[] PngClaiming(int width, int height)
    {
        var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        WriteChunk(output, "IHDR", header);
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) z.Write(new byte[64]);
        WriteChunk(output, "IDAT", compressed.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        output.Write(typeAndData);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in typeAndData)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        var crcBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, ~crc);
        output.Write(crcBytes);
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
