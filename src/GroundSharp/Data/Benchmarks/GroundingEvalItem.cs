using GroundSharp.Eval;

namespace GroundSharp.Data.Benchmarks;

/// <summary>
/// One evaluation query of a real benchmark: the image (path and size), the phrase to ground, its split, its
/// categories (Flickr30k Entities types, or the RefCOCO category name), its ground-truth boxes (x1,y1,x2,y2)
/// and, when a proposal file was given, the detector proposals of its image. <see cref="Context"/> is the
/// full caption for Flickr30k Entities, null otherwise; <see cref="QueryId"/> identifies the query in its
/// source (Flickr: "image/sentence/entity", RefCOCO: the ref_id).
/// </summary>
public sealed record GroundingEvalItem(
    string ImagePath,
    string Text,
    string Split,
    IReadOnlyList<string> Categories,
    IReadOnlyList<Box> GtBoxes,
    int ImageWidth,
    int ImageHeight,
    IReadOnlyList<Box>? Proposals = null,
    string? Context = null,
    string? QueryId = null)
{
    /// <summary>The item as <see cref="OfficialGroundingEval.FlickrPointing"/> takes it.</summary>
    public FlickrGroundingItem ToFlickrItem() => new(Split, ImageHeight, ImageWidth, GtBoxes);

    /// <summary>The item as the RefCOCO evaluations take it (the first GT box is the referred one).</summary>
    public RefGroundingItem ToRefItem()
    {
        if (GtBoxes.Count == 0) throw new GroundSharpException($"query {QueryId ?? Text}: no ground-truth box");
        return new(Split, ImageHeight, ImageWidth, GtBoxes[0], Proposals ?? Array.Empty<Box>());
    }
}
