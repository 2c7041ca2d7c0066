using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Models;

/// <summary>What happened when a state dict was loaded into an <see cref="AlbefModel"/>.</summary>
public sealed record WeightLoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Mismatched,
    IReadOnlyList<string> IgnoredTrainingOnly,
    IReadOnlyList<string> Notes)
{
    public bool IsClean => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    public string Summary(string source)
    {
        var parts = new List<string> { $"{source}: loaded {Loaded.Count} tensors" };
        if (IgnoredTrainingOnly.Count > 0) parts.Add($"ignored {IgnoredTrainingOnly.Count} training-only entries (momentum copies, queues)");
        if (Missing.Count > 0) parts.Add($"missing {Missing.Count}: {Preview(Missing)}");
        if (Unexpected.Count > 0) parts.Add($"unexpected {Unexpected.Count}: {Preview(Unexpected)}");
        if (Mismatched.Count > 0) parts.Add($"mis-shaped {Mismatched.Count}: {Preview(Mismatched)}");
        parts.AddRange(Notes);
        return string.Join("; ", parts);
    }

    private static string Preview(IReadOnlyList<string> keys) =>
        string.Join(", ", keys.Take(8)) + (keys.Count > 8 ? $", ... ({keys.Count - 8} more)" : "");
}

/// <summary>
/// Loads ALBEF/AMC state dicts (training or evaluation class naming) into <see cref="AlbefModel"/>:
/// accepts <c>text_encoder.</c> with or without <c>bert.</c> and a DDP <c>module.</c> prefix, resizes
/// <c>pos_embed</c> to the configured resolution, and reports missing / unexpected / mis-shaped keys.
/// </summary>
public static class AlbefWeights
{
    private static readonly string[] TrainingOnlyPrefixes =
        { "visual_encoder_m.", "text_encoder_m.", "vision_proj_m.", "text_proj_m.", "tag_head." };
    private static readonly HashSet<string> TrainingOnlyKeys = new()
    {
        "image_queue", "text_queue", "idx_queue", "queue_ptr", "queue_ptr_img", "queue_ptr_txt",
        // a registered buffer (0..max_positions-1) in HF BERT, recomputed here
        "text_encoder.bert.embeddings.position_ids",
    };
    // Stored twice by PyTorch because the tensors are tied.
    private const string DecoderBiasAlias = "text_encoder.cls.predictions.decoder.bias";
    private const string DecoderWeight = "text_encoder.cls.predictions.decoder.weight";

    private const string WordEmbeddings = "text_encoder.bert.embeddings.word_embeddings.weight";

    /// <summary>The MLM decoder weight is the word embeddings (tied): loaded when they are.</summary>
    internal static bool IsTiedToLoaded(string name, IReadOnlySet<string> loaded) => name == DecoderWeight && loaded.Contains(WordEmbeddings);

    /// <summary>Maps a checkpoint key to this model's naming.</summary>
    public static string CanonicalKey(string key)
    {
        if (key.StartsWith("module.")) key = key["module.".Length..];
        foreach (var enc in new[] { "text_encoder.", "text_encoder_m." })
            if (key.StartsWith(enc) && !key.StartsWith(enc + "bert.") && !key.StartsWith(enc + "cls."))
                return enc + "bert." + key[enc.Length..];
        return key;
    }

    public static bool IsTrainingOnly(string canonicalKey) =>
        TrainingOnlyKeys.Contains(canonicalKey) || TrainingOnlyPrefixes.Any(canonicalKey.StartsWith);

    /// <param name="strict">Fail (listing every problem) on missing, unexpected or mis-shaped keys.</param>
    /// <param name="adopt">
    /// Make each parameter use the checkpoint tensor's memory (converted to the parameter's dtype where it differs) instead
    /// of copying into it: for a freshly built model, whose own allocation is then never touched. The caller must not
    /// change the state dict's tensors afterwards (disposing them is fine).
    /// </param>
    public static WeightLoadReport Load(AlbefModel model, IReadOnlyDictionary<string, Tensor> stateDict, bool strict, string source, bool adopt = false)
    {
        var byKey = new Dictionary<string, Tensor>();
        var ignored = new List<string>();
        var notes = new List<string>();
        var rawKeys = new Dictionary<string, string>();
        foreach (var (rawKey, t) in stateDict)
        {
            var k = CanonicalKey(rawKey);
            if (IsTrainingOnly(k) || k == DecoderBiasAlias) { ignored.Add(rawKey); continue; }
            // Not a config problem: the file itself holds two tensors for one weight.
            if (!rawKeys.TryAdd(k, rawKey))
                throw new GroundSharpException($"{source}: tensors '{rawKeys[k]}' and '{rawKey}' are both the weight '{k}' (with and without a 'module.' or 'bert.' prefix); the checkpoint must hold it once");
            byKey[k] = t;
        }

        var loaded = new List<string>();
        var missing = new List<string>();
        var mismatched = new List<string>();
        using (no_grad())
        {
            foreach (var (name, target) in model.named_parameters())
            {
                if (!byKey.Remove(name, out var src))
                {
                    if (name == DecoderWeight && loaded.Contains(WordEmbeddings)) continue; // tied
                    missing.Add(name);
                    continue;
                }
                if (target.is_floating_point()) EnsureFloatWeight(src, rawKeys[name], source);
                var value = src;
                if (name == "visual_encoder.pos_embed" && src.dim() == 3 && !src.shape.SequenceEqual(target.shape) && src.shape[2] == target.shape[2])
                {
                    value = VisionTransformer.ResizePosEmbed(src.to_type(ScalarType.Float32), model.Config.GridSize);
                    notes.Add($"pos_embed resized from {src.shape[1] - 1} to {target.shape[1] - 1} patch positions (bicubic)");
                }
                if (!value.shape.SequenceEqual(target.shape))
                {
                    mismatched.Add($"{name} (checkpoint {Shape(value)}, model {Shape(target)})");
                    continue;
                }
                if (adopt && value.device_type == target.device_type && value.device_index == target.device_index)
                {
                    using var own = value.dtype == target.dtype ? value.contiguous() : value.to_type(target.dtype).contiguous();
                    target.set_(own);
                }
                else target.copy_(value);
                if (!ReferenceEquals(value, src)) value.Dispose();
                loaded.Add(name);
            }
        }

        var unexpected = byKey.Keys.ToList();
        bool missingMlmOnly = missing.Count > 0 && missing.All(m => m.StartsWith("text_encoder.cls."));
        if (missingMlmOnly)
        {
            notes.Add("the checkpoint has no MLM head (text_encoder.cls.*): fine for grounding, needed only for training");
            missing.Clear();
        }
        var report = new WeightLoadReport(loaded, missing, unexpected, mismatched, ignored, notes);
        if (strict && !report.IsClean)
            throw new GroundSharpException($"{source} does not match the model configuration: " + report.Summary(source) +
                                           ". Pass the config the checkpoint was trained with (--config).");
        if (loaded.Count == 0)
            throw new GroundSharpException($"{source}: no tensor of the checkpoint matches an ALBEF parameter name; is it an ALBEF/AMC checkpoint?");
        return report;
    }

    /// <summary>
    /// A float weight must come from a float tensor with finite values: an integer or bool tensor would be converted
    /// without a word, and a NaN or infinity would only show up later, as a heatmap or a loss that means nothing.
    /// </summary>
    public static Tensor EnsureFloatWeight(Tensor value, string key, string source)
    {
        if (!value.is_floating_point())
            throw new GroundSharpException($"{source}: tensor '{key}' has dtype {value.dtype}, but it is a floating-point weight (float32, float16, bfloat16 or float64 expected)");
        if (!AllFinite(value))
            throw new GroundSharpException($"{source}: tensor '{key}' holds NaN or infinite values; the checkpoint is damaged (or saved from a diverged run)");
        return value;
    }

    /// <summary>
    /// Whether no element is NaN or infinite, read in place: a value is non-finite exactly when its exponent bits are
    /// all ones, which a vectorised scan checks at memory speed (libtorch's isfinite().all() took ~0.5 s for ALBEF-base).
    /// </summary>
    internal static bool AllFinite(Tensor value)
    {
        if (value.numel() == 0) return true;
        if (value.device_type != DeviceType.CPU) { using var cpu = value.cpu(); return AllFinite(cpu); }
        using var dense = value.contiguous();
        var bytes = dense.bytes;
        return value.dtype switch
        {
            ScalarType.Float32 => ExponentNeverFull(MemoryMarshal.Cast<byte, uint>(bytes), 0x7F80_0000u),
            ScalarType.Float64 => ExponentNeverFull(MemoryMarshal.Cast<byte, ulong>(bytes), 0x7FF0_0000_0000_0000ul),
            ScalarType.Float16 => ExponentNeverFull(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7C00),
            ScalarType.BFloat16 => ExponentNeverFull(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7F80),
            _ => true,
        };
    }

    private static unsafe bool ExponentNeverFull<T>(ReadOnlySpan<T> bits, T exponentMask) where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        // Large weights in parallel chunks (the scan is memory-bound; a second core nearly halves it).
        const int Chunk = 1 << 20;
        if (bits.Length > 2 * Chunk)
        {
            fixed (T* start = bits)
            {
                T* p = start;
                int length = bits.Length;
                bool finite = true;
                Parallel.For(0, (length + Chunk - 1) / Chunk, (c, state) =>
                {
                    int from = c * Chunk;
                    if (!ScanNeverFull(new ReadOnlySpan<T>(p + from, Math.Min(Chunk, length - from)), exponentMask)) { finite = false; state.Stop(); }
                });
                return finite;
            }
        }
        return ScanNeverFull(bits, exponentMask);
    }

    private static bool ScanNeverFull<T>(ReadOnlySpan<T> bits, T exponentMask) where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        var mask = new System.Numerics.Vector<T>(exponentMask);
        int i = 0;
        for (; i + System.Numerics.Vector<T>.Count <= bits.Length; i += System.Numerics.Vector<T>.Count)
        {
            var v = new System.Numerics.Vector<T>(bits.Slice(i));
            if (System.Numerics.Vector.EqualsAny(v & mask, mask)) return false;
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & exponentMask) == exponentMask) return false;
        return true;
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
