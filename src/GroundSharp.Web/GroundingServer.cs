using System.Diagnostics;
using GroundSharp.Explain;
using GroundSharp.Rec;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace GroundSharp.Web;

/// <summary>
/// The web demo: an ASP.NET Core minimal-API app serving the page (embedded static files) and the grounding API
/// over one <see cref="ServedModel"/>. Build it with <see cref="Create"/>, then <see cref="StartAsync"/>
/// (tests; read <see cref="Addresses"/>) or <see cref="RunAsync"/> (the CLI, until Ctrl+C).
/// </summary>
public sealed class GroundingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServedModel _model;
    private readonly ServeOptions _options;
    private readonly Grounder? _grounder;
    private readonly RecGrounder? _recGrounder;
    private readonly ModelWorker _worker = new("groundsharp-model");
    private readonly OverlayCache _overlays;
    private readonly object _modelInfo;
    private ILogger _log = null!;

    private GroundingServer(ServedModel model, ServeOptions options)
    {
        options.Validate();
        _model = model;
        _options = options;
        if (model.Rec is { } rec) _recGrounder = new RecGrounder(rec);
        // The served model never changes: a user's second phrase on the same upload reuses its ViT embeddings.
        else _grounder = new Grounder(model.Model!, model.Tokenizer!, new GrounderOptions { ImageCacheSize = 8 });
        Gate = new InferenceGate(options.MaxConcurrency, options.EffectiveMaxQueue);
        _overlays = new OverlayCache(options.OverlayCacheEntries, options.OverlayCacheBytes);
        _modelInfo = DescribeModel();
        _app = Build();
    }

    public static GroundingServer Create(ServedModel model, ServeOptions? options = null) => new(model, options ?? new ServeOptions());

    public InferenceGate Gate { get; }

    /// <summary>The addresses Kestrel listens on (with the real port when the URL asked for port 0); after start.</summary>
    public IReadOnlyList<string> Addresses =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    public Task RunAsync() => _app.RunAsync();

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _worker.Dispose();
        Gate.Dispose();
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [],
            ApplicationName = typeof(GroundingServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseUrls(_options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = _options.MaxUploadBytes;
        });
        // The request body limit is Kestrel's; the form reader must not stop earlier with a different error.
        builder.Services.Configure<FormOptions>(f => f.MultipartBodyLengthLimit = _options.MaxUploadBytes);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
        builder.Logging.SetMinimumLevel(_options.LogRequests ? LogLevel.Information : LogLevel.Warning);

        var app = builder.Build();
        _log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("GroundSharp.Web");
        app.Use(async (context, next) =>
        {
            // The page loads nothing from elsewhere; say so to the browser too.
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'";
            await next(context);
        });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = WebAssets.FileProvider });

        app.MapGet("/", () => Results.Stream(WebAssets.Open("index.html")!, "text/html; charset=utf-8"));
        app.MapGet("/healthz", () => Results.Json(new
        {
            status = "ok",
            running = Gate.Running,
            waiting = Gate.Waiting,
            maxConcurrency = Gate.Concurrency,
            maxQueue = Gate.QueueLength,
        }));
        app.MapGet("/api/model", () => Results.Json(_modelInfo));
        app.MapGet("/api/samples", () => Results.Json(SampleImages.All.Select(s => new
        {
            id = s.Id,
            title = s.Title,
            url = s.Url,
            phrases = s.Phrases,
        })));
        app.MapGet("/api/overlay/{id}", (string id) =>
            _overlays.TryGet(id, out var png)
                ? Results.File(png, "image/png")
                : Error(StatusCodes.Status404NotFound, "no such overlay (overlays are kept in memory for a limited number of recent results)"));
        app.MapPost("/api/ground", (Delegate)GroundAsync);
        return app;
    }

    private static IResult Error(int status, string message) => Results.Json(new { error = message, status }, statusCode: status);

    private async Task<IResult> GroundAsync(HttpContext context)
    {
        var total = Stopwatch.StartNew();
        var aborted = context.RequestAborted;
        if (context.Request.ContentLength > _options.MaxUploadBytes) return TooLarge();

        var lease = await Gate.TryEnterAsync(aborted);
        if (lease is null)
        {
            context.Response.Headers.RetryAfter = _options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Error(StatusCodes.Status503ServiceUnavailable,
                $"busy: {Gate.Concurrency} request(s) running and {Gate.QueueLength} waiting; retry after {_options.RetryAfterSeconds} s");
        }
        using (lease)
        {
            double queueMs = total.Elapsed.TotalMilliseconds;
            try
            {
                var request = await GroundRequest.ReadAsync(context.Request, _options, aborted);
                var step = Stopwatch.StartNew();
                var image = request.DecodeImage();
                double decodeMs = step.Elapsed.TotalMilliseconds;

                if (_options.BeforeInference is { } hook) await hook(aborted);
                step.Restart();
                List<object> phrases;
                double inferenceMs;
                var display = new DisplayRendering(image, _options.DisplayMaxSide);
                if (_recGrounder is not null)
                {
                    var results = await _worker.RunAsync(() => _recGrounder.Ground(image, request.Phrases), aborted);
                    inferenceMs = step.Elapsed.TotalMilliseconds;
                    phrases = new List<object>(results.Count);
                    foreach (var r in results)
                    {
                        step.Restart();
                        string overlayId = _overlays.Add(display.BoxOverlayPng(r));
                        var entry = r.JsonFields();
                        entry["heatmapPng"] = null;
                        entry["overlayUrl"] = "/api/overlay/" + overlayId;
                        entry["timing"] = new { inferenceMs, renderMs = step.Elapsed.TotalMilliseconds };
                        phrases.Add(entry);
                    }
                }
                else
                {
                    var results = await _worker.RunAsync(() => _grounder!.Ground(image, request.Phrases), aborted);
                    inferenceMs = step.Elapsed.TotalMilliseconds;
                    phrases = new List<object>(results.Count);
                    foreach (var r in results)
                    {
                        step.Restart();
                        var (heatmapPng, overlayPng) = display.Pictures(r);
                        string heatmap = "data:image/png;base64," + Convert.ToBase64String(heatmapPng);
                        string overlayId = _overlays.Add(overlayPng);
                        var entry = GroundingResultJson.Fields(r);
                        entry["heatmapPng"] = heatmap;
                        entry["overlayUrl"] = "/api/overlay/" + overlayId;
                        entry["timing"] = new { inferenceMs, renderMs = step.Elapsed.TotalMilliseconds };
                        phrases.Add(entry);
                    }
                }
                return Results.Json(new
                {
                    method = _model.Method,
                    image = new { source = request.ImageSource, width = image.Width, height = image.Height, displayWidth = display.Width, displayHeight = display.Height },
                    untrainedModel = _model.IsUntrainedDemo,
                    notice = _model.Notice,
                    timing = new { queueMs, decodeMs, inferenceMs, totalMs = total.Elapsed.TotalMilliseconds },
                    results = phrases,
                });
            }
            catch (ApiException e) { return Error(e.StatusCode, e.Message); }
            catch (GroundSharpException e) { return Error(StatusCodes.Status400BadRequest, e.Message); }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return TooLarge(); }
            catch (BadHttpRequestException e) { return Error(e.StatusCode, e.Message); }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested) { return Results.Empty; }
            catch (Exception e)
            {
                _log.LogError(e, "grounding request failed");
                return Error(StatusCodes.Status500InternalServerError, $"internal error ({e.GetType().Name}); see the server's log");
            }
        }
    }

    private IResult TooLarge() => Error(StatusCodes.Status413PayloadTooLarge,
        $"the upload is larger than the limit of {_options.MaxUploadBytes / (1024.0 * 1024):0.##} MiB");

    private object DescribeModel()
    {
        var limits = new
        {
            maxUploadBytes = _options.MaxUploadBytes,
            maxPixels = _options.MaxPixels,
            maxPhrases = _options.MaxPhrases,
            maxPhraseLength = _options.MaxPhraseLength,
            maxConcurrency = Gate.Concurrency,
            maxQueue = Gate.QueueLength,
        };
        if (_model.Rec is { } rec)
        {
            var rc = rec.Config;
            return new
            {
                method = _model.Method,
                checkpoint = _model.Checkpoint,
                config = _model.ConfigSource,
                untrained = false,
                notice = (string?)null,
                device = rec.Device.ToString(),
                parameters = rec.parameters().Sum(p => p.numel()),
                inputSize = rc.Detector.InputSize,
                detectorClasses = rc.Detector.NumClasses,
                topK = rc.TopK,
                cma = rc.UseCma,
                textConditioning = rc.TextConditioning.ToString(),
                vocabulary = new { source = _model.Checkpoint, size = rec.Vocabulary.Count },
                limits,
                threads = torch.get_num_threads(),
            };
        }
        var model = _model.Model!;
        var cfg = model.Config;
        long parameters = 0;
        foreach (var p in model.parameters()) parameters += p.numel();
        return new
        {
            method = _model.Method,
            checkpoint = _model.Checkpoint,
            config = _model.ConfigSource,
            untrained = _model.IsUntrainedDemo,
            notice = _model.Notice,
            device = model.Device.ToString(),
            dtype = model.DType.ToString(),
            parameters,
            imageRes = cfg.ImageRes,
            patchSize = cfg.PatchSize,
            gridSize = new[] { cfg.GridSize, cfg.GridSize },
            gradcamLayer = _grounder!.Layer,
            vision = new { width = cfg.VisionWidth, depth = cfg.VisionDepth, heads = cfg.VisionHeads },
            bert = new
            {
                hiddenSize = cfg.Bert.HiddenSize,
                layers = cfg.Bert.NumHiddenLayers,
                fusionLayer = cfg.Bert.FusionLayer,
                heads = cfg.Bert.NumAttentionHeads,
                vocabSize = cfg.Bert.VocabSize,
            },
            vocabulary = new { source = _model.Tokenizer!.VocabSource, size = _model.Tokenizer.VocabSize },
            limits,
            threads = torch.get_num_threads(),
        };
    }
}
