using System.Text.Json;
using GroundSharp.Eval;

namespace GroundSharp.Data;

/// <summary>
/// One training/evaluation sample: an image, a text and, for region phrases, the box the text refers to
/// (original-image pixels, x2/y2 exclusive). Caption-only samples (image-level text) have no box.
/// <see cref="Tags"/> are optional image-level labels (what occurs in the image, as ImageNet's labels: no
/// boxes), the targets of the visual encoder's unimodal pre-training (docs/training.md).
/// </summary>
public sealed record GroundingSample(string ImagePath, string Text, Box? Box, string? Source = null, string? ImageId = null, IReadOnlyList<string>? Tags = null);

/// <summary>
/// The JSON-lines sample format (docs/formats.md): one object a line with <c>image</c> (path, relative to the
/// file's folder or to an image root), <c>text</c>, optional <c>box</c> [x1, y1, x2, y2] or null, optional
/// <c>source</c>, <c>image_id</c> and <c>tags</c> (an array of strings). Streams the file; errors name the file and line.
/// </summary>
public static class GroundingSampleFile
{
    public static IEnumerable<GroundingSample> Read(string path, string? imageRoot = null) =>
        ReadWithLines(path, imageRoot).Select(s => s.Sample);

    /// <summary>The samples with their 1-based line numbers (blank lines are skipped, so these are not the sample indices).</summary>
    public static IEnumerable<(int Line, GroundingSample Sample)> ReadWithLines(string path, string? imageRoot = null)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"sample file not found: {path}");
        string root = imageRoot ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return (lineNo, Parse(line, root, $"{path}:{lineNo}"));
        }
    }

    public static GroundingSample Parse(string line, string imageRoot, string where)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new GroundSharpException($"{where}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{where}: each line must be a JSON object");
            string image = o.TryGetProperty("image", out var im) && im.ValueKind == JsonValueKind.String && im.GetString()!.Length > 0
                ? im.GetString()! : throw new GroundSharpException($"{where}: missing \"image\" (a path)");
            string text = o.TryGetProperty("text", out var tx) && tx.ValueKind == JsonValueKind.String
                ? tx.GetString()! : throw new GroundSharpException($"{where}: missing \"text\"");
            if (string.IsNullOrWhiteSpace(text)) throw new GroundSharpException($"{where}: empty \"text\"");
            Box? box = null;
            if (o.TryGetProperty("box", out var b) && b.ValueKind != JsonValueKind.Null)
            {
                if (b.ValueKind != JsonValueKind.Array || b.GetArrayLength() != 4 || b.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
                    throw new GroundSharpException($"{where}: \"box\" must be [x1, y1, x2, y2] or null");
                var v = b.EnumerateArray().Select(e => e.GetDouble()).ToArray();
                box = new Box(v[0], v[1], v[2], v[3]).EnsureWellFormed($"{where}: box");
            }
            string? source = o.TryGetProperty("source", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            string? id = o.TryGetProperty("image_id", out var i) ? (i.ValueKind == JsonValueKind.String ? i.GetString() : i.GetRawText()) : null;
            List<string>? tags = null;
            if (o.TryGetProperty("tags", out var tg) && tg.ValueKind != JsonValueKind.Null)
            {
                if (tg.ValueKind != JsonValueKind.Array || tg.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString())))
                    throw new GroundSharpException($"{where}: \"tags\" must be an array of non-empty strings or null");
                tags = tg.EnumerateArray().Select(v => v.GetString()!).Distinct(StringComparer.Ordinal).ToList();
            }
            return new GroundingSample(Path.IsPathRooted(image) ? image : Path.Combine(imageRoot, image), text, box, source, id, tags);
        }
    }

    public static string ToJsonLine(GroundingSample s, string? relativeTo = null)
    {
        var o = new Dictionary<string, object?>
        {
            ["image"] = relativeTo is null ? s.ImagePath : Path.GetRelativePath(relativeTo, s.ImagePath),
            ["text"] = s.Text,
            ["box"] = s.Box is { } b ? new[] { b.X1, b.Y1, b.X2, b.Y2 } : null,
        };
        if (s.Source is not null) o["source"] = s.Source;
        if (s.ImageId is not null) o["image_id"] = s.ImageId;
        if (s.Tags is not null) o["tags"] = s.Tags;
        return JsonSerializer.Serialize(o);
    }
}
