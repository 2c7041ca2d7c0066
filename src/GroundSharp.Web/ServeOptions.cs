namespace GroundSharp.Web;

/// <summary>Limits and settings of the web demo; the defaults are those of <c>groundsharp serve</c>.</summary>
public sealed record ServeOptions
{
    public const long DefaultMaxUploadBytes = 20L * 1024 * 1024;
    public const int DefaultMaxConcurrency = 2;
    public const int DefaultMaxPhrases = 16;
    public const int DefaultMaxPhraseLength = 300;
    /// <summary>16 megapixels (e.g. 4096×4096): each phrase's heatmap is a float per original pixel.</summary>
    public const long DefaultMaxPixels = 16L * 1024 * 1024;

    /// <summary>Where Kestrel listens; port 0 picks a free port (see <see cref="GroundingServer.Addresses"/>).</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5000";
    /// <summary>Largest accepted request body (the uploaded image and its form); larger ones get 413.</summary>
    public long MaxUploadBytes { get; init; } = DefaultMaxUploadBytes;
    /// <summary>Requests processed at once (decode, inference, rendering); inference itself runs one at a time per model.</summary>
    public int MaxConcurrency { get; init; } = DefaultMaxConcurrency;
    /// <summary>Requests allowed to wait for a slot; null = 2 × <see cref="MaxConcurrency"/>. Beyond it: 503.</summary>
    public int? MaxQueue { get; init; }
    public int MaxPhrases { get; init; } = DefaultMaxPhrases;
    public int MaxPhraseLength { get; init; } = DefaultMaxPhraseLength;
    public long MaxPixels { get; init; } = DefaultMaxPixels;
    /// <summary>Longest side of the heatmap and overlay PNGs sent back (the page scales them to the image).</summary>
    public int DisplayMaxSide { get; init; } = 768;
    /// <summary>Rendered overlays kept for <c>GET /api/overlay/{id}</c>; the oldest go first.</summary>
    public int OverlayCacheEntries { get; init; } = 128;
    public long OverlayCacheBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>Seconds a client told 503 is asked to wait.</summary>
    public int RetryAfterSeconds { get; init; } = 2;
    /// <summary>ASP.NET Core's request logging on the console (off in tests).</summary>
    public bool LogRequests { get; init; }
    /// <summary>Test seam: awaited after a request is admitted, before its inference; lets tests hold requests in flight.</summary>
    public Func<CancellationToken, Task>? BeforeInference { get; init; }

    public int EffectiveMaxQueue => MaxQueue ?? 2 * MaxConcurrency;

    public void Validate()
    {
        if (MaxUploadBytes < 1024 || MaxUploadBytes > 1024L * 1024 * 1024)
            throw new GroundSharpException("--max-upload-mb must be between 1 KiB and 1024 MiB (uploads are held in memory)");
        if (MaxConcurrency < 1) throw new GroundSharpException("--max-concurrency must be >= 1");
        if (EffectiveMaxQueue < 0) throw new GroundSharpException("the request queue length must be >= 0");
        if (MaxPhrases < 1 || MaxPhraseLength < 1) throw new GroundSharpException("the phrase limits must be >= 1");
        if (MaxPixels < 1) throw new GroundSharpException("the pixel limit must be >= 1");
        if (DisplayMaxSide < 16) throw new GroundSharpException("the display size must be >= 16 pixels");
    }
}
