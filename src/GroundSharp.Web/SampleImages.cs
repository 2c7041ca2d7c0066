using System.Collections.Frozen;
using GroundSharp.Data;

namespace GroundSharp.Web;

/// <summary>A bundled sample scene: an embedded PNG under wwwroot/samples and phrases that fit it.</summary>
public sealed record SampleImage(string Id, string Title, string FileName, IReadOnlyList<string> Phrases)
{
    public string Url => "/samples/" + FileName;
}

/// <summary>
/// The bundled scenes (drawn by tools/make-sample-scenes.py). Requests name a sample by id, which is looked up
/// in this fixed table; nothing a client sends becomes a path or a resource name.
/// </summary>
public static class SampleImages
{
    public static IReadOnlyList<SampleImage> All { get; } =
    [
        new("shapes-1", "red circle, blue square, green triangle", "shapes-1.png", ["the red circle", "the blue square", "the green triangle"]),
        new("shapes-2", "yellow square, blue circle, red triangle", "shapes-2.png", ["the yellow square", "the blue circle", "the red triangle"]),
        new("shapes-3", "blue triangle, green circle, red square", "shapes-3.png", ["the blue triangle", "the green circle", "the red square"]),
    ];

    private static readonly FrozenDictionary<string, SampleImage> ById = All.ToFrozenDictionary(s => s.Id, StringComparer.Ordinal);
    private static readonly FrozenDictionary<string, Lazy<RgbImage>> Decoded =
        All.ToFrozenDictionary(s => s.Id, s => new Lazy<RgbImage>(() => Decode(s)), StringComparer.Ordinal);

    public static bool TryGet(string id, out SampleImage sample) => ById.TryGetValue(id, out sample!);

    public static RgbImage Image(SampleImage sample) => Decoded[sample.Id].Value;

    private static RgbImage Decode(SampleImage sample)
    {
        using var stream = WebAssets.Open("samples/" + sample.FileName)
            ?? throw new InvalidOperationException($"sample {sample.FileName} is missing from the build");
        return ImageLoader.Load(stream, "sample " + sample.Id);
    }
}
