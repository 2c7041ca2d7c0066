using System.Globalization;
using System.Text.Json;
using GroundSharp.Eval;

namespace GroundSharp.Data.Benchmarks;

/// <summary>One referring expression's annotation: its image, split, referred box (x,y,w,h → corners) and category.</summary>
public sealed record RefAnnotation(long RefId, long ImageId, string Split, Box Box, string? Category);

/// <summary>An image of the refs file: id, size and COCO file name (if given).</summary>
public sealed record RefImage(long Id, int Width, int Height, string? FileName);

/// <summary>
/// The box lookup that ALBEF's <c>grounding_eval</c> takes from the REFER toolkit, as one JSON file: the COCO
/// <c>instances.json</c> of the dataset (<c>images</c>, <c>annotations</c>, optional <c>categories</c>) with
/// REFER's <c>refs(unc).p</c> list added as <c>refs</c> (each {ref_id, ann_id, image_id, split,
/// category_id}; a ref may carry its own <c>bbox</c> [x,y,w,h] instead of an <c>ann_id</c>). The lookup is
/// an index, so it is held in memory (a few records per referring expression).
/// </summary>
public sealed class RefLookup
{
    public IReadOnlyDictionary<long, RefAnnotation> Refs { get; }
    public IReadOnlyDictionary<long, RefImage> Images { get; }

    private RefLookup(Dictionary<long, RefAnnotation> refs, Dictionary<long, RefImage> images)
    {
        Refs = refs;
        Images = images;
    }

    public static RefLookup Read(string path)
    {
        using var doc = Json.ParseFile(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{path}: the top level must be an object with \"images\", \"annotations\" and \"refs\"");
        var images = new Dictionary<long, RefImage>();
        foreach (var (e, where) in Json.Array(root, "images", path))
        {
            long id = Json.Long(e, "id", where);
            images[id] = new RefImage(id, (int)Json.Long(e, "width", where), (int)Json.Long(e, "height", where),
                e.TryGetProperty("file_name", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null);
        }
        var categories = new Dictionary<long, string>();
        if (root.TryGetProperty("categories", out _))
            foreach (var (e, where) in Json.Array(root, "categories", path))
                categories[Json.Long(e, "id", where)] = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
        var annotations = new Dictionary<long, (Box Box, long? Category)>();
        if (root.TryGetProperty("annotations", out _))
            foreach (var (e, where) in Json.Array(root, "annotations", path))
                annotations[Json.Long(e, "id", where)] = (Json.Xywh(e, "bbox", where), e.TryGetProperty("category_id", out var c) && c.TryGetInt64(out long cid) ? cid : null);
        var refs = new Dictionary<long, RefAnnotation>();
        foreach (var (e, where) in Json.Array(root, "refs", path))
        {
            long refId = Json.Long(e, "ref_id", where);
            long imageId = Json.Long(e, "image_id", where);
            if (!images.ContainsKey(imageId)) throw new GroundSharpException($"{where}: image_id {imageId} is not in \"images\"");
            string split = e.TryGetProperty("split", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            Box box;
            long? category = e.TryGetProperty("category_id", out var rc) && rc.TryGetInt64(out long rcid) ? rcid : null;
            if (e.TryGetProperty("bbox", out _)) box = Json.Xywh(e, "bbox", where);
            else
            {
                long annId = Json.Long(e, "ann_id", where);
                if (!annotations.TryGetValue(annId, out var ann)) throw new GroundSharpException($"{where}: ann_id {annId} is not in \"annotations\"");
                box = ann.Box;
                category ??= ann.Category;
            }
            refs[refId] = new RefAnnotation(refId, imageId, split, box.EnsureHasArea($"{where}: ground-truth box"), category is { } cat && categories.TryGetValue(cat, out var name) ? name : null);
        }
        return new RefLookup(refs, images);
    }
}

/// <summary>
/// Readers of RefCOCO / RefCOCO+ / RefCOCOg / RefCLEF in the ALBEF grounding layout: the grounding JSON (an
/// array of {image, text, ref_id, and optionally split or type}), the <see cref="RefLookup"/> file and,
/// optionally, detection proposals (ALBEF's <c>dets.json</c>: {"&lt;image id&gt;": [[x,y,w,h,...], ...]}).
/// </summary>
public static class RefGrounding
{
    /// <summary>
    /// The queries of <paramref name="groundingJson"/> (streamed element by element) whose split equals
    /// <paramref name="split"/> (all when null). The split is the entry's <c>split</c> or <c>type</c>, else
    /// its ref's. Image paths are the entry's <c>image</c> under <paramref name="imageRoot"/>.
    /// </summary>
    public static IEnumerable<GroundingEvalItem> ReadItems(string groundingJson, RefLookup lookup, string imageRoot,
        string? split = null, IReadOnlyDictionary<long, IReadOnlyList<Box>>? proposals = null)
    {
        using var reader = new JsonArrayReader(groundingJson);
        foreach (var element in reader.ReadAll())
        {
            GroundingEvalItem item;
            using (var doc = reader.Parse(element))
            {
                var e = doc.RootElement;
                string where = $"{groundingJson}: element {element.Index}";
                if (e.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{where}: expected an object");
                long refId = Json.Long(e, "ref_id", where);
                string image = Json.String(e, "image", where);
                string text = Json.String(e, "text", where);
                if (!lookup.Refs.TryGetValue(refId, out var r)) throw new GroundSharpException($"{where}: ref_id {refId} is not in the refs file");
                string itemSplit = e.TryGetProperty("split", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()!
                    : e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : r.Split;
                if (split is not null && itemSplit != split) continue;
                var img = lookup.Images[r.ImageId];
                IReadOnlyList<Box>? imageProposals = null;
                if (proposals is not null && !proposals.TryGetValue(r.ImageId, out imageProposals))
                    throw new GroundSharpException($"{where}: the proposals file has no entry for image {r.ImageId}");
                item = new GroundingEvalItem(Path.Combine(imageRoot, image), text, itemSplit,
                    r.Category is null ? Array.Empty<string>() : [r.Category], [r.Box], img.Width, img.Height,
                    imageProposals, null, refId.ToString(CultureInfo.InvariantCulture));
            }
            yield return item;
        }
    }

    /// <summary>Detection proposals: {"&lt;image id&gt;": [[x, y, w, h, (score...)], ...]}; extra values after the box are ignored.</summary>
    public static Dictionary<long, IReadOnlyList<Box>> ReadProposals(string path)
    {
        using var doc = Json.ParseFile(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{path}: the top level must be an object mapping image id → list of [x, y, w, h]");
        var result = new Dictionary<long, IReadOnlyList<Box>>();
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            string where = $"{path}: image \"{property.Name}\"";
            if (!long.TryParse(property.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id))
                throw new GroundSharpException($"{where}: the key is not an image id");
            if (property.Value.ValueKind != JsonValueKind.Array) throw new GroundSharpException($"{where}: expected a list of boxes");
            var boxes = new List<Box>();
            int i = 0;
            foreach (var box in property.Value.EnumerateArray())
                boxes.Add(Json.XywhValue(box, $"{where}, box {i++}"));
            result[id] = boxes;
        }
        return result;
    }
}

/// <summary>Small helpers for the lookup files: every error names the file and the record.</summary>
internal static class Json
{
    public static JsonDocument ParseFile(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"file not found: {path}");
        using var stream = File.OpenRead(path);
        try { return JsonDocument.Parse(stream); }
        catch (JsonException e) { throw new GroundSharpException($"{path}: not valid JSON (line {e.LineNumber + 1}): {e.Message}", e); }
    }

    public static IEnumerable<(JsonElement Element, string Where)> Array(JsonElement parent, string key, string path)
    {
        if (!parent.TryGetProperty(key, out var list) || list.ValueKind != JsonValueKind.Array)
            throw new GroundSharpException($"{path}: \"{key}\" must be an array");
        int i = 0;
        foreach (var e in list.EnumerateArray())
        {
            string where = $"{path}: {key}[{i++}]";
            if (e.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{where}: expected an object");
            yield return (e, where);
        }
    }

    public static long Long(JsonElement e, string key, string where) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n)
            ? n : throw new GroundSharpException($"{where}: missing integer \"{key}\"");

    public static string String(JsonElement e, string key, string where) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()! : throw new GroundSharpException($"{where}: missing string \"{key}\"");

    public static Box Xywh(JsonElement e, string key, string where) =>
        e.TryGetProperty(key, out var v) ? XywhValue(v, $"{where}: \"{key}\"") : throw new GroundSharpException($"{where}: missing \"{key}\" [x, y, w, h]");

    public static Box XywhValue(JsonElement v, string where)
    {
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() < 4 || v.EnumerateArray().Take(4).Any(x => x.ValueKind != JsonValueKind.Number))
            throw new GroundSharpException($"{where}: a box must be [x, y, w, h]");
        var n = v.EnumerateArray().Take(4).Select(x => x.GetDouble()).ToArray();
        return Box.FromXywh(n[0], n[1], n[2], n[3]).EnsureWellFormed(where);
    }
}
