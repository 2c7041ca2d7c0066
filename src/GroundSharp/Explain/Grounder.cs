using System.Diagnostics;
using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Explain;

/// <summary>Where a phrase is in an image, according to the GradCAM of the ITM match score.</summary>
public sealed record GroundingResult
{
    public required string Phrase { get; init; }
    /// <summary>The phrase after ALBEF's pre_caption (what the model saw).</summary>
    public required string CleanedPhrase { get; init; }
    /// <summary>The raw GradCAM map on the patch grid, row-major (GridHeight × GridWidth), before any upsampling.</summary>
    public required float[] GridMap { get; init; }
    public required int GridHeight { get; init; }
    public required int GridWidth { get; init; }
    public required int ImageWidth { get; init; }
    public required int ImageHeight { get; init; }
    /// <summary>The first maximum of <see cref="FullSizeHeatmap"/> (the pointing-game point), in original-image pixels.</summary>
    public required (int X, int Y) Point { get; init; }
    /// <summary>See <see cref="HeatmapBox"/>: bounding box of the connected region ≥ fraction × peak around the point.</summary>
    public required Box Box { get; init; }
    /// <summary>ITM match probability softmax(logits)[1].</summary>
    public required double Score { get; init; }
    public required int TokenCount { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
    /// <summary>Every token of the phrase is [UNK]: the result cannot mean anything (a warning says so).</summary>
    public bool AllUnknown { get; init; }

    /// <summary>
    /// <see cref="GridMap"/> upsampled (bicubic, align_corners false) to width × height, row-major. At the original size
    /// (<see cref="FullSizeHeatmap"/>) it is the map the point and the box were taken from; at a display size it is what
    /// an overlay shows. Computed on demand: a 12-megapixel map is 48 MB, so results do not keep one per phrase.
    /// </summary>
    public float[] Heatmap(int width, int height)
    {
        using var up = Heatmaps.UpsampleBicubic(GridMap, GridHeight, GridWidth, height, width);
        return up.data<float>().ToArray();
    }

    /// <summary><see cref="Heatmap(int, int)"/> at the original image size.</summary>
    public float[] FullSizeHeatmap() => Heatmap(ImageWidth, ImageHeight);
}

/// <summary>The JSON fields of a <see cref="GroundingResult"/> shared by the CLI's results.json and the web API.</summary>
public static class GroundingResultJson
{
    /// <summary>phrase, cleanedPhrase, gridSize, gridMap (raw, row-major), point, box (x2/y2 exclusive), score, tokens, warnings; callers add their own keys.</summary>
    public static Dictionary<string, object?> Fields(GroundingResult r) => new()
    {
        ["phrase"] = r.Phrase,
        ["cleanedPhrase"] = r.CleanedPhrase,
        ["gridSize"] = new[] { r.GridHeight, r.GridWidth },
        ["gridMap"] = r.GridMap,
        ["point"] = new[] { r.Point.X, r.Point.Y },
        ["box"] = new[] { r.Box.X1, r.Box.Y1, r.Box.X2, r.Box.Y2 },
        ["score"] = r.Score,
        ["tokens"] = r.TokenCount,
        ["warnings"] = r.Warnings,
    };
}

public sealed record GrounderOptions
{
    /// <summary>BERT layer whose cross-attention is explained; null = the config's GradCAM layer.</summary>
    public int? Layer { get; init; }
    /// <summary>Phrases per forward/backward batch (bounds memory for many phrases).</summary>
    public int MaxBatch { get; init; } = 32;
    public double BoxFraction { get; init; } = HeatmapBox.DefaultFraction;
    /// <summary>
    /// Images whose ViT embeddings are kept (by a hash of their pixels) for the next call on the same image: a second
    /// phrase then skips the ViT, most of a single phrase's cost. 0 = none. Only for a model whose weights do not
    /// change while the Grounder lives (a server's); the default keeps none.
    /// </summary>
    public int ImageCacheSize { get; init; }
}

/// <summary>
/// Grounds phrases in images with an ALBEF model: the image is encoded once, all its phrases are batched
/// against the shared image embeddings, and only d(logit)/d(attention) is back-propagated (see <see cref="GradCam"/>).
/// <para>Thread-safe: GradCAM captures attention in the model's layers, so calls on one model (from this or any other
/// Grounder) run one at a time, in the calling thread, each with its own no-grad and dispose scopes. For parallel
/// throughput load one model per worker; <see cref="GroundAsync"/> runs a call off the caller's thread.</para>
/// </summary>
public sealed class Grounder
{
    /// <summary>Phrases whose full-size maps are upsampled in one call (4 x 48 MB at 12 megapixels).</summary>
    private const int UpsampleGroup = 4;

    private readonly AlbefModel _model;
    private readonly AlbefTokenizer _tokenizer;
    private readonly GrounderOptions _options;

    public Grounder(AlbefModel model, AlbefTokenizer tokenizer, GrounderOptions? options = null)
    {
        _model = model;
        _tokenizer = tokenizer;
        _options = options ?? new GrounderOptions();
        if (tokenizer.VocabSize > model.Config.Bert.VocabSize)
            throw new GroundSharpException($"the vocabulary ({tokenizer.VocabSource}, {tokenizer.VocabSize} entries) is larger than the model's vocab_size ({model.Config.Bert.VocabSize}): wrong --vocab for this checkpoint?");
        int layer = _options.Layer ?? model.Config.EffectiveGradcamLayer;
        if (layer < model.Config.Bert.FusionLayer || layer >= model.Config.Bert.NumHiddenLayers)
            throw new GroundSharpException($"--layer {layer} is not a fusion layer of this model (valid: {model.Config.Bert.FusionLayer}..{model.Config.Bert.NumHiddenLayers - 1})");
    }

    public AlbefModel Model => _model;
    public int Layer => _options.Layer ?? _model.Config.EffectiveGradcamLayer;

    public IReadOnlyList<GroundingResult> Ground(RgbImage image, IReadOnlyList<string> phrases) => Ground(image, phrases, CancellationToken.None);

    /// <summary>
    /// <see cref="Ground(RgbImage, IReadOnlyList{string})"/> on a thread-pool thread. Cancellation is honoured before
    /// the model is taken and between batches of <see cref="GrounderOptions.MaxBatch"/> phrases (a batch is not interrupted).
    /// </summary>
    public Task<IReadOnlyList<GroundingResult>> GroundAsync(RgbImage image, IReadOnlyList<string> phrases, CancellationToken cancellationToken = default) =>
        Task.Run(() => Ground(image, phrases, cancellationToken), cancellationToken);

    private IReadOnlyList<GroundingResult> Ground(RgbImage image, IReadOnlyList<string> phrases, CancellationToken cancellationToken)
    {
        if (phrases.Count == 0) throw new GroundSharpException("no phrase to ground: give at least one");
        cancellationToken.ThrowIfCancellationRequested();
        lock (_model)
        {
            // Inference mode (no dropout) for this call only: a model being trained is handed back as it came, on every exit.
            bool training = _model.training;
            _model.eval();
            try { return GroundLocked(image, phrases, cancellationToken); }
            finally { if (training) _model.train(); }
        }
    }

    private readonly LinkedList<(byte[] Key, Tensor Embeds)> _imageCache = new();

    /// <summary>How many calls found their image's embeddings in the cache (<see cref="GrounderOptions.ImageCacheSize"/>).</summary>
    public int ImageCacheHits { get; private set; }

    /// <summary>The image's ViT embeddings: from the cache when this image was seen, else computed (and kept when caching).</summary>
    private Tensor ImageEmbeddings(RgbImage image)
    {
        var cfg = _model.Config;
        byte[]? key = null;
        if (_options.ImageCacheSize > 0)
        {
            key = ImageKey(image);
            for (var node = _imageCache.First; node is not null; node = node.Next)
            {
                if (!node.Value.Key.AsSpan().SequenceEqual(key)) continue;
                _imageCache.Remove(node);
                _imageCache.AddFirst(node);
                ImageCacheHits++;
                return node.Value.Embeds.alias(); // a handle of the calling scope; the cache keeps its own
            }
        }
        Tensor embeds;
        using (no_grad())
        {
            var pixels = ImagePreprocessor.ToTensor(image, cfg.ImageRes, _model.Device).to_type(_model.DType).unsqueeze(0);
            embeds = _model.EncodeImage(pixels);
        }
        if (key is null) return embeds;
        _imageCache.AddFirst((key, embeds.alias().DetachFromDisposeScope()));
        while (_imageCache.Count > _options.ImageCacheSize)
        {
            _imageCache.Last!.Value.Embeds.Dispose();
            _imageCache.RemoveLast();
        }
        return embeds;
    }

    /// <summary>SHA-256 of the size and the pixels: equal keys are the same image (the model input depends on nothing else).</summary>
    private static byte[] ImageKey(RgbImage image)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(BitConverter.GetBytes(image.Width));
        sha.AppendData(BitConverter.GetBytes(image.Height));
        sha.AppendData(image.Pixels);
        return sha.GetHashAndReset();
    }

    private List<GroundingResult> GroundLocked(RgbImage image, IReadOnlyList<string> phrases, CancellationToken cancellationToken)
    {
        var cfg = _model.Config;
        var results = new List<GroundingResult>(phrases.Count);
        using var scope = NewDisposeScope();
        var imageEmbeds = ImageEmbeddings(image);
        for (int start = 0; start < phrases.Count; start += _options.MaxBatch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = phrases.Skip(start).Take(_options.MaxBatch).ToList();
            using var chunkScope = NewDisposeScope();
            using var tokens = _tokenizer.Encode(chunk, cfg.Bert.MaxPositionEmbeddings, cfg.MaxWords, _model.Device);
            if (tokens.InputIds.max().item<long>() >= cfg.Bert.VocabSize)
                throw new GroundSharpException($"a token id exceeds the model's vocab_size ({cfg.Bert.VocabSize}): the vocabulary {_tokenizer.VocabSource} does not belong to this model");
            using var cam = GradCam.ForGrounding(_model, imageEmbeds, tokens.InputIds, tokens.AttentionMask, Layer);
            var matchProb = cam.ItmLogits.softmax(1).select(1, 1).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            var grids = cam.Maps.to_type(ScalarType.Float32).cpu();
            var points = new (int X, int Y)[chunk.Count];
            var boxes = new Box[chunk.Count];
            // Full-size maps live only while their points and boxes are taken, a few phrases at a time (upsampled together:
            // cheaper per map, and a 12-megapixel map is 48 MB).
            for (int first = 0; first < chunk.Count; first += UpsampleGroup)
            {
                int n = Math.Min(UpsampleGroup, chunk.Count - first);
                using var up = Heatmaps.UpsampleBicubic(grids.narrow(0, first, n), image.Height, image.Width);
                for (int j = 0; j < n; j++)
                {
                    using var map = up[j];
                    points[first + j] = Heatmaps.FirstArgmax(map);
                    boxes[first + j] = HeatmapBox.FromPeakRegion(map, points[first + j], _options.BoxFraction);
                }
            }
            for (int i = 0; i < chunk.Count; i++)
            {
                results.Add(new GroundingResult
                {
                    Phrase = chunk[i],
                    CleanedPhrase = tokens.CleanedPhrases[i],
                    GridMap = grids[i].contiguous().data<float>().ToArray(),
                    GridHeight = cfg.GridSize,
                    GridWidth = cfg.GridSize,
                    ImageWidth = image.Width,
                    ImageHeight = image.Height,
                    Point = points[i],
                    Box = boxes[i],
                    Score = matchProb[i],
                    TokenCount = tokens.TokenCounts[i],
                    Warnings = tokens.PhraseWarnings[i],
                    AllUnknown = tokens.AllUnknown[i],
                });
            }
        }
        return results;
    }
}
