using GroundSharp.Eval;

namespace GroundSharp.Data.VisualGenome;

/// <summary>
/// One entry of <c>image_data.json</c>: the image id, its size and its path relative to the VG image root
/// (the last two parts of its url, e.g. <c>VG_100K/1.jpg</c>, or <c>&lt;id&gt;.jpg</c> without a url).
/// </summary>
public sealed record VgImage(long ImageId, int Width, int Height, string RelativePath);

/// <summary>
/// An annotated object: its box as VG gives it (x, y, w, h converted to corners, not yet clipped), its names
/// in file order and the attributes <c>attributes.json</c> gives for the same object id (empty if none).
/// </summary>
public sealed record VgObject(long ObjectId, Box Box, IReadOnlyList<string> Names, IReadOnlyList<string> Attributes);

/// <summary>A region description: its phrase and box (x, y, width, height converted to corners, not yet clipped).</summary>
public sealed record VgRegion(long RegionId, string Phrase, Box Box);

/// <summary>Everything the triplet builder needs about one image, joined from the four VG files.</summary>
public sealed record VgImageAnnotations(VgImage Image, IReadOnlyList<VgObject> Objects, IReadOnlyList<VgRegion> Regions);
