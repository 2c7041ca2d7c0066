using System.Globalization;
using System.Text.Json;
using GroundSharp.Eval;

namespace GroundSharp.Data.VisualGenome;

/// <summary>
/// Streams Visual Genome image by image: <c>image_data.json</c> drives the order, and the entries of
/// <c>objects.json</c>, <c>attributes.json</c> and <c>region_descriptions.json</c> for the same image id
/// are joined to it (see <see cref="ImageKeyedArrayFile{T}"/> for files in another order). Only
/// <c>image_data.json</c> is required; a missing annotation file contributes nothing. When
/// <c>objects.json</c> is absent the objects (with their names and boxes) come from <c>attributes.json</c>.
/// Errors name the file and the element index.
/// </summary>
public sealed class VisualGenomeReader : IDisposable
{
    public const string ImageDataFile = "image_data.json";
    public const string ObjectsFile = "objects.json";
    public const string AttributesFile = "attributes.json";
    public const string RegionsFile = "region_descriptions.json";

    private readonly JsonArrayReader _images;
    private readonly ImageKeyedArrayFile<List<VgObject>>? _objects;
    private readonly ImageKeyedArrayFile<List<VgObject>>? _attributes;
    private readonly ImageKeyedArrayFile<List<VgRegion>>? _regions;

    public VisualGenomeReader(string vgDirectory)
    {
        if (!Directory.Exists(vgDirectory)) throw new GroundSharpException($"Visual Genome folder not found: {vgDirectory}");
        string imageData = Path.Combine(vgDirectory, ImageDataFile);
        if (!File.Exists(imageData)) throw new GroundSharpException($"{imageData} not found (the Visual Genome image list is required)");
        string objects = Path.Combine(vgDirectory, ObjectsFile);
        string attributes = Path.Combine(vgDirectory, AttributesFile);
        string regions = Path.Combine(vgDirectory, RegionsFile);
        if (!File.Exists(objects) && !File.Exists(attributes) && !File.Exists(regions))
            throw new GroundSharpException($"{vgDirectory}: none of {ObjectsFile}, {AttributesFile}, {RegionsFile} found");
        _images = new JsonArrayReader(imageData);
        if (File.Exists(objects)) _objects = new(objects, ImageIdOf, (e, i) => ReadObjects(e, "objects", objects, i));
        if (File.Exists(attributes)) _attributes = new(attributes, ImageIdOf, (e, i) => ReadObjects(e, "attributes", attributes, i));
        if (File.Exists(regions)) _regions = new(regions, RegionsImageIdOf, (e, i) => ReadRegions(e, regions, i));
    }

    /// <summary>Entries of the annotation files read out of order so far (kept as byte ranges, see the class remarks).</summary>
    public int IndexedOutOfOrder => (_objects?.IndexedOutOfOrder ?? 0) + (_attributes?.IndexedOutOfOrder ?? 0) + (_regions?.IndexedOutOfOrder ?? 0);

    /// <summary>The largest read buffer any of the files needed (it follows the largest element, not the file size).</summary>
    public int MaxBufferCapacity => new[] { _images.BufferCapacity, _objects?.BufferCapacity ?? 0, _attributes?.BufferCapacity ?? 0, _regions?.BufferCapacity ?? 0 }.Max();

    /// <summary>The images in <c>image_data.json</c> order with their annotations.</summary>
    public IEnumerable<VgImageAnnotations> ReadImages()
    {
        while (_images.TryReadNext(out var element))
        {
            VgImage image;
            using (var doc = _images.Parse(element))
                image = ReadImage(doc.RootElement, _images.Name, element.Index);
            yield return Annotate(image);
        }
    }

    private VgImageAnnotations Annotate(VgImage image)
    {
        var objects = new List<VgObject>();
        List<VgObject>? withAttributes = null;
        if (_attributes is not null && _attributes.TryTake(image.ImageId, out var a)) withAttributes = a;
        if (_objects is not null)
        {
            if (_objects.TryTake(image.ImageId, out var o)) objects = o;
            if (withAttributes is not null)
            {
                var byId = new Dictionary<long, IReadOnlyList<string>>();
                foreach (var obj in withAttributes)
                    if (obj.Attributes.Count > 0) byId.TryAdd(obj.ObjectId, obj.Attributes);
                objects = objects.Select(obj => byId.TryGetValue(obj.ObjectId, out var attrs) ? obj with { Attributes = attrs } : obj).ToList();
            }
        }
        else if (withAttributes is not null)
        {
            objects = withAttributes;
        }
        var regions = _regions is not null && _regions.TryTake(image.ImageId, out var r) ? r : new List<VgRegion>();
        return new VgImageAnnotations(image, objects, regions);
    }

    private static VgImage ReadImage(JsonElement e, string file, int index)
    {
        string where = $"{file}: element {index}";
        if (e.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{where}: expected an object");
        long id = ImageIdOf(e, index) ?? throw new GroundSharpException($"{where}: no image id (\"image_id\" or \"id\")");
        int width = (int)Number(e, "width", where);
        int height = (int)Number(e, "height", where);
        string? url = e.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        return new VgImage(id, width, height, RelativePathFromUrl(url, id));
    }

    /// <summary>The last two parts of the url's path (<c>VG_100K/1.jpg</c>), or <c>&lt;id&gt;.jpg</c>.</summary>
    public static string RelativePathFromUrl(string? url, long imageId)
    {
        var parts = (url ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        bool hasFolder = parts.Length >= 2 && !parts[^2].EndsWith(':') && parts[^1].Contains('.');
        return hasFolder ? $"{parts[^2]}/{parts[^1]}" : $"{imageId.ToString(CultureInfo.InvariantCulture)}.jpg";
    }

    // objects.json / attributes.json name the image "image_id" (VG 1.4) or "id", or nest it in "image" (VG 1.0).
    private static long? ImageIdOf(JsonElement e, int index)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        foreach (var key in new[] { "image_id", "id" })
            if (e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long id)) return id;
        return e.TryGetProperty("image", out var img) && img.ValueKind == JsonValueKind.Object ? ImageIdOf(img, index) : null;
    }

    // region_descriptions.json: {"id": image id, "regions": [...]}; older dumps carry it only in each region.
    private static long? RegionsImageIdOf(JsonElement e, int index)
    {
        if (ImageIdOf(e, index) is { } id) return id;
        if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("regions", out var regions) && regions.ValueKind == JsonValueKind.Array)
            foreach (var region in regions.EnumerateArray())
                if (region.ValueKind == JsonValueKind.Object && region.TryGetProperty("image_id", out var v) && v.TryGetInt64(out long rid)) return rid;
        return null;
    }

    private static List<VgObject> ReadObjects(JsonElement e, string listKey, string file, int index)
    {
        var result = new List<VgObject>();
        string where = $"{file}: element {index}";
        if (!e.TryGetProperty(listKey, out var list) || list.ValueKind == JsonValueKind.Null) return result;
        if (list.ValueKind != JsonValueKind.Array) throw new GroundSharpException($"{where}: \"{listKey}\" must be an array");
        int i = 0;
        foreach (var o in list.EnumerateArray())
        {
            string at = $"{where}, {listKey}[{i++}]";
            if (o.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{at}: expected an object");
            long objectId = o.TryGetProperty("object_id", out var oid) && oid.TryGetInt64(out long v) ? v
                : o.TryGetProperty("id", out var id2) && id2.TryGetInt64(out long v2) ? v2 : -1;
            var box = Box.FromXywh(Number(o, "x", at), Number(o, "y", at), Number(o, "w", at), Number(o, "h", at));
            // VG 1.4 lists "names"; VG 1.0 had a single "name".
            var names = Strings(o, "names", at);
            if (names.Count == 0 && o.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) names.Add(n.GetString()!);
            result.Add(new VgObject(objectId, box, names, Strings(o, "attributes", at)));
        }
        return result;
    }

    private static List<VgRegion> ReadRegions(JsonElement e, string file, int index)
    {
        var result = new List<VgRegion>();
        string where = $"{file}: element {index}";
        if (!e.TryGetProperty("regions", out var list) || list.ValueKind == JsonValueKind.Null) return result;
        if (list.ValueKind != JsonValueKind.Array) throw new GroundSharpException($"{where}: \"regions\" must be an array");
        int i = 0;
        foreach (var r in list.EnumerateArray())
        {
            string at = $"{where}, regions[{i++}]";
            if (r.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{at}: expected an object");
            long regionId = r.TryGetProperty("region_id", out var rid) && rid.TryGetInt64(out long v) ? v : -1;
            string phrase = r.TryGetProperty("phrase", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
            var box = Box.FromXywh(Number(r, "x", at), Number(r, "y", at), Number(r, "width", at), Number(r, "height", at));
            result.Add(new VgRegion(regionId, phrase, box));
        }
        return result;
    }

    private static double Number(JsonElement e, string key, string where) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new GroundSharpException($"{where}: missing number \"{key}\"");

    private static List<string> Strings(JsonElement e, string key, string where)
    {
        var result = new List<string>();
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return result;
        if (v.ValueKind != JsonValueKind.Array) throw new GroundSharpException($"{where}: \"{key}\" must be an array of strings");
        foreach (var s in v.EnumerateArray())
            if (s.ValueKind == JsonValueKind.String) result.Add(s.GetString()!);
        return result;
    }

    public void Dispose()
    {
        _images.Dispose();
        _objects?.Dispose();
        _attributes?.Dispose();
        _regions?.Dispose();
    }
}
