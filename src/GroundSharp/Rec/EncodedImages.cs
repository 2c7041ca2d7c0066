using System.Security.Cryptography;
using System.Text.Json;
using GroundSharp.IO;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// Images encoded once by a REC model's frozen detector: the per-image <see cref="FrozenVisual"/> rows, the
/// images' original sizes and their row by path. Reusable by every REC model with the same detector, grid scale
/// and top-k (the encoding does not depend on the text or the trained parts).
/// </summary>
public sealed class EncodedImages : IDisposable
{
    public IReadOnlyList<string> Paths { get; }
    public IReadOnlyList<(int Width, int Height)> Sizes { get; }
    public FrozenVisual Visual { get; }
    public int InputSize { get; }
    private readonly Dictionary<string, int> _rows;

    private EncodedImages(IReadOnlyList<string> paths, IReadOnlyList<(int, int)> sizes, FrozenVisual visual, int inputSize)
    {
        Paths = paths;
        Sizes = sizes;
        Visual = visual;
        InputSize = inputSize;
        _rows = paths.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i, StringComparer.Ordinal);
    }

    public int Row(string path) => _rows.TryGetValue(path, out var row) ? row : throw new GroundSharpException($"image {path} was not encoded");

    /// <summary>Loads, resizes and encodes the images in chunks of <paramref name="chunkSize"/> (bounded memory).</summary>
    public static EncodedImages Encode(RecModel model, IReadOnlyList<string> paths, int chunkSize = 32)
    {
        if (paths.Count == 0) throw new GroundSharpException("no images to encode");
        int inputSize = model.Config.Detector.InputSize;
        var sizes = new List<(int, int)>();
        var parts = new List<FrozenVisual>();
        try
        {
            for (int start = 0; start < paths.Count; start += chunkSize)
            {
                var (images, chunkSizes) = DetectorInput.Load(paths.Skip(start).Take(chunkSize).ToList(), inputSize);
                using (images) parts.Add(model.EncodeImages(images));
                sizes.AddRange(chunkSizes);
            }
            return new EncodedImages(paths.ToList(), sizes, FrozenVisual.Concat(parts), inputSize);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>Called after a cache part is written (tests use it to stop a run there).</summary>
    internal static Action<string>? AfterCachePart { get; set; }

    /// <summary>
    /// The images' encodings from an on-disk cache under <paramref name="cacheDir"/>, encoding (and writing) only what
    /// is missing. The cache lives in a subfolder named by a hash of what the encoding depends on — the detector's
    /// weights and config, the grid scale and top-k — so another detector never reads a stale cache. Images are
    /// encoded in parts of <paramref name="partSize"/>, each written atomically with its image list: a run stopped
    /// while caching keeps the finished parts and leaves no partial file.
    /// </summary>
    public static EncodedImages Cached(RecModel model, IReadOnlyList<string> paths, string cacheDir, int partSize = 256, Action<int, int>? progress = null)
    {
        if (paths.Count == 0) throw new GroundSharpException("no images to encode");
        if (partSize < 1) throw new ArgumentOutOfRangeException(nameof(partSize), partSize, "must be at least 1");
        string dir = Path.Combine(cacheDir, CacheKey(model));
        Directory.CreateDirectory(dir);
        var sizes = new List<(int, int)>();
        var parts = new List<FrozenVisual>();
        try
        {
            for (int start = 0, part = 0; start < paths.Count; start += partSize, part++)
            {
                var chunk = paths.Skip(start).Take(partSize).ToList();
                string file = Path.Combine(dir, $"part-{part:D5}.safetensors");
                var cached = File.Exists(file) ? ReadPart(file, chunk) : null;
                if (cached is null)
                {
                    using var encoded = Encode(model, chunk);
                    WritePart(file, encoded);
                    AfterCachePart?.Invoke(file);
                    cached = (encoded.Visual.Select(Enumerable.Range(0, chunk.Count).Select(i => (long)i).ToArray()), encoded.Sizes.ToList());
                }
                parts.Add(cached.Value.Visual);
                sizes.AddRange(cached.Value.Sizes);
                progress?.Invoke(Math.Min(start + partSize, paths.Count), paths.Count);
            }
            return new EncodedImages(paths.ToList(), sizes, FrozenVisual.Concat(parts), model.Config.Detector.InputSize);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    private const string PathsKey = "groundsharp.rec.cache.paths";
    private const string SizesKey = "groundsharp.rec.cache.sizes";

    /// <summary>A hash of the detector's weights and config, the grid scale and top-k: what an image's encoding depends on.</summary>
    private static string CacheKey(RecModel model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(RecJson.Serialize(model.Config.Detector) + $"|grid {model.Config.GridScale}|top {model.Config.TopK}|v2"));
        foreach (var (name, t) in model.detector.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            using var c = t.detach().cpu().contiguous();
            hash.AppendData(c.bytes);
        }
        return Convert.ToHexString(hash.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private static void WritePart(string file, EncodedImages encoded)
    {
        var tensors = new Dictionary<string, Tensor>();
        for (int s = 0; s < encoded.Visual.Features.Length; s++) tensors[$"features.{s}"] = encoded.Visual.Features[s];
        tensors["cells"] = encoded.Visual.Cells;
        tensors["boxes"] = encoded.Visual.Boxes;
        tensors["objectness"] = encoded.Visual.Objectness;
        SafeTensors.Save(file, tensors, new Dictionary<string, string>
        {
            [PathsKey] = JsonSerializer.Serialize(encoded.Paths),
            [SizesKey] = JsonSerializer.Serialize(encoded.Sizes.Select(s => new[] { s.Width, s.Height })),
        });
    }

    /// <summary>A cached part, or null when it holds other images (the data changed) or is unreadable: it is then encoded again.</summary>
    private static (FrozenVisual Visual, List<(int, int)> Sizes)? ReadPart(string file, IReadOnlyList<string> paths)
    {
        Dictionary<string, Tensor> tensors;
        Dictionary<string, string> metadata;
        try { (tensors, metadata) = SafeTensors.Load(file); }
        catch (GroundSharpException) { return null; }
        try
        {
            if (!metadata.TryGetValue(PathsKey, out var pathsJson) || !metadata.TryGetValue(SizesKey, out var sizesJson)) return null;
            var stored = JsonSerializer.Deserialize<List<string>>(pathsJson);
            var sizes = JsonSerializer.Deserialize<List<int[]>>(sizesJson);
            if (stored is null || sizes is null || !stored.SequenceEqual(paths, StringComparer.Ordinal) || sizes.Count != paths.Count) return null;
            string[] names = ["features.0", "features.1", "features.2", "cells", "boxes", "objectness"];
            if (!names.All(tensors.ContainsKey)) return null;
            var taken = names.Select(n => { tensors.Remove(n, out var t); return t!; }).ToArray();
            return (new FrozenVisual(taken[..3], taken[3], taken[4], taken[5]), sizes.Select(s => (s[0], s[1])).ToList());
        }
        catch (JsonException) { return null; }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public void Dispose() => Visual.Dispose();
}
