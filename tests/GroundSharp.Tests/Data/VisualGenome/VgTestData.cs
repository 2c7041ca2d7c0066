using System.Text.Json;

namespace GroundSharp.Tests.Data.VisualGenome;

/// <summary>Writes small Visual Genome files (same layout as VG 1.4) into a temp folder.</summary>
public sealed class VgTestData
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "groundsharp-tests", "vg-" + Guid.NewGuid().ToString("N"));

    private readonly List<object> _images = new();
    private readonly List<object> _objects = new();
    private readonly List<object> _attributes = new();
    private readonly List<object> _regions = new();

    public VgTestData() => Directory.CreateDirectory(Dir);

    public sealed record TestObject(long Id, double X, double Y, double W, double H, string Name, string[] Attributes);

    public static TestObject Obj(long id, double x, double y, double w, double h, string name, params string[] attributes) =>
        new(id, x, y, w, h, name, attributes);

    public static object Region(long id, long imageId, string phrase, double x, double y, double width, double height) =>
        new { region_id = id, image_id = imageId, phrase, x, y, width, height };

    /// <summary>Adds an image with its objects (written to objects.json, and with attributes to attributes.json) and regions.</summary>
    public VgTestData Image(long id, int width, int height, TestObject[]? objects = null, object[]? regions = null)
    {
        _images.Add(new { image_id = id, url = $"https://cs.stanford.edu/people/rak248/VG_100K/{id}.jpg", width, height, coco_id = (long?)null });
        var objs = objects ?? Array.Empty<TestObject>();
        // As in VG: objects.json has names only; attributes.json repeats the objects, with "attributes" when they have some.
        _objects.Add(new { image_id = id, objects = objs.Select(o => new { object_id = o.Id, x = o.X, y = o.Y, w = o.W, h = o.H, names = new[] { o.Name }, synsets = Array.Empty<string>() }).ToArray(), image_url = "" });
        _attributes.Add(new
        {
            image_id = id,
            attributes = objs.Select(o => o.Attributes.Length == 0
                ? (object)new { object_id = o.Id, x = o.X, y = o.Y, w = o.W, h = o.H, names = new[] { o.Name } }
                : new { object_id = o.Id, x = o.X, y = o.Y, w = o.W, h = o.H, names = new[] { o.Name }, attributes = o.Attributes }).ToArray(),
        });
        _regions.Add(new { id, regions = regions ?? Array.Empty<object>() });
        return this;
    }

    /// <summary>Writes the four files; <paramref name="reorder"/> may change the order of one annotation file's elements.</summary>
    public string Write(Func<List<object>, IEnumerable<object>>? reorderAttributes = null)
    {
        File.WriteAllText(Path.Combine(Dir, "image_data.json"), JsonSerializer.Serialize(_images));
        File.WriteAllText(Path.Combine(Dir, "objects.json"), JsonSerializer.Serialize(_objects));
        File.WriteAllText(Path.Combine(Dir, "attributes.json"), JsonSerializer.Serialize(reorderAttributes is null ? _attributes : reorderAttributes(_attributes).ToList()));
        File.WriteAllText(Path.Combine(Dir, "region_descriptions.json"), JsonSerializer.Serialize(_regions));
        return Dir;
    }
}
