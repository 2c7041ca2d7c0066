using GroundSharp.Eval;

namespace GroundSharp.Data.VisualGenome;

/// <summary>Settings of <c>prepare-vg</c>.</summary>
public sealed record VgTripletOptions
{
    /// <summary>
    /// Boxes (objects and regions) whose clipped area is below this fraction of the image area are dropped.
    /// The paper filters small boxes but its value did not survive in the text, so 0.01 is our default.
    /// </summary>
    public double MinAreaFraction { get; init; } = 0.01;

    /// <summary>Images to leave out entirely (e.g. those overlapping a test set, the paper's "clean" split).</summary>
    public IReadOnlySet<long>? ExcludedImageIds { get; init; }

    /// <summary>Stop after this many images that were not excluded (a quick subset); null for all.</summary>
    public int? MaxImages { get; init; }
}

/// <summary>Counts kept by the builder: the final summary of <c>prepare-vg</c>.</summary>
public sealed class VgTripletStats
{
    public const string DropDegenerate = "degenerate (w or h <= 0)";
    public const string DropOutsideImage = "outside the image";
    public const string DropSmall = "below min area fraction";
    public const string DropNoName = "object without a name";
    public const string DropEmptyPhrase = "region without a phrase";
    public const string DropImageWithoutSize = "image without a size";

    public int ImagesRead { get; set; }
    public int ImagesExcluded { get; set; }
    public int ImagesUsed { get; set; }
    public int ImagesWithoutTriplets { get; set; }
    public long DuplicatesDropped { get; set; }
    public SortedDictionary<string, long> TripletsBySource { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> BoxesDropped { get; } = new(StringComparer.Ordinal);
    public long Triplets => TripletsBySource.Values.Sum();

    internal void Drop(string reason) => BoxesDropped[reason] = BoxesDropped.GetValueOrDefault(reason) + 1;
    internal void Emit(string source) => TripletsBySource[source] = TripletsBySource.GetValueOrDefault(source) + 1;
}

/// <summary>
/// Turns one VG image's objects, attributes and region descriptions into (image, phrase, box) triplets
/// (the AMC paper, section 4.1). Rules, in the order the triplets are emitted for an image:
/// <list type="number">
/// <item>Every box is clipped to the image; a box with w or h ≤ 0, one that clipping empties, or one whose
/// clipped area is below <see cref="VgTripletOptions.MinAreaFraction"/> of the image is dropped.</item>
/// <item>Objects, in file order: the category is the first name that is not empty after normalising
/// (lower-case, trim, collapse whitespace); with a non-empty first attribute, "a/an {attribute} {category}"
/// (source attribute); always "the {category}" when the image has one distinct box of that category, else
/// "a/an {category}" (source object).</item>
/// <item>Spatial (source spatial), per category with ≥ 2 distinct boxes, by box centre, a tie skips the
/// prompt: unique smallest centre x → "{category} on the left", largest x → "{category} on the right",
/// smallest y → "top {category}", largest y → "bottom {category}"; for each corner, the box whose centre is
/// uniquely closest to it (normalised L1 distance) gets "top left {category}" etc. if that centre lies in the
/// outer third of the image both ways.</item>
/// <item>Region descriptions (source region), phrase normalised, with their boxes.</item>
/// <item>Identical (phrase, box) pairs of an image are kept once.</item>
/// </list>
/// </summary>
public static class VgTripletBuilder
{
    public const string SourceAttribute = "attribute";
    public const string SourceObject = "object";
    public const string SourceSpatial = "spatial";
    public const string SourceRegion = "region";

    public static List<GroundingSample> Build(VgImageAnnotations annotations, VgTripletOptions options, VgTripletStats stats)
    {
        var image = annotations.Image;
        var triplets = new List<GroundingSample>();
        var seen = new HashSet<(string, Box)>();
        string imageId = image.ImageId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        void Add(string text, Box box, string source)
        {
            if (!seen.Add((text, box))) { stats.DuplicatesDropped++; return; }
            triplets.Add(new GroundingSample(image.RelativePath, text, box, source, imageId));
            stats.Emit(source);
        }

        if (image.Width <= 0 || image.Height <= 0)
        {
            for (int i = 0; i < annotations.Objects.Count + annotations.Regions.Count; i++) stats.Drop(VgTripletStats.DropImageWithoutSize);
            return triplets;
        }

        var kept = new List<(string Category, string Attribute, Box Box)>();
        foreach (var obj in annotations.Objects)
        {
            string category = obj.Names.Select(VgPrompts.Normalize).FirstOrDefault(n => n.Length > 0) ?? "";
            if (category.Length == 0) { stats.Drop(VgTripletStats.DropNoName); continue; }
            if (KeepBox(obj.Box, image, options, stats) is not { } box) continue;
            string attribute = obj.Attributes.Count > 0 ? VgPrompts.Normalize(obj.Attributes[0]) : "";
            kept.Add((category, attribute, box));
        }

        // Distinct boxes per category, in order of first appearance: duplicates of one object must not
        // make a category look plural, nor tie with themselves in the spatial rules.
        var boxesByCategory = new Dictionary<string, List<Box>>(StringComparer.Ordinal);
        var categoryOrder = new List<string>();
        foreach (var (category, _, box) in kept)
        {
            if (!boxesByCategory.TryGetValue(category, out var list))
            {
                boxesByCategory[category] = list = new List<Box>();
                categoryOrder.Add(category);
            }
            if (!list.Contains(box)) list.Add(box);
        }

        foreach (var (category, attribute, box) in kept)
        {
            if (attribute.Length > 0) Add(VgPrompts.Attribute(attribute, category), box, SourceAttribute);
            Add(VgPrompts.Object(category, boxesByCategory[category].Count == 1), box, SourceObject);
        }

        foreach (var category in categoryOrder)
        {
            var boxes = boxesByCategory[category];
            if (boxes.Count < 2) continue;
            foreach (var (index, position) in SpatialPositions(boxes, image.Width, image.Height))
                Add(VgPrompts.Spatial(position, category), boxes[index], SourceSpatial);
        }

        foreach (var region in annotations.Regions)
        {
            string phrase = VgPrompts.Normalize(region.Phrase);
            if (phrase.Length == 0) { stats.Drop(VgTripletStats.DropEmptyPhrase); continue; }
            if (KeepBox(region.Box, image, options, stats) is not { } box) continue;
            Add(phrase, box, SourceRegion);
        }
        return triplets;
    }

    /// <summary>
    /// The spatial prompts earned by the boxes of one category (indices into <paramref name="boxes"/>), in
    /// <see cref="SpatialPosition"/> order. Needs at least two boxes; a tie for an extreme gives no prompt.
    /// </summary>
    public static List<(int Index, SpatialPosition Position)> SpatialPositions(IReadOnlyList<Box> boxes, int imageWidth, int imageHeight)
    {
        var result = new List<(int, SpatialPosition)>();
        if (boxes.Count < 2) return result;
        // Centres doubled (x1 + x2) keep integer boxes exact.
        var cx = boxes.Select(b => b.X1 + b.X2).ToArray();
        var cy = boxes.Select(b => b.Y1 + b.Y2).ToArray();
        double w2 = 2.0 * imageWidth, h2 = 2.0 * imageHeight;
        void Extreme(double[] key, SpatialPosition position)
        {
            if (UniqueMin(key) is { } i) result.Add((i, position));
        }
        Extreme(cx, SpatialPosition.Left);
        Extreme(cx.Select(v => -v).ToArray(), SpatialPosition.Right);
        Extreme(cy, SpatialPosition.Top);
        Extreme(cy.Select(v => -v).ToArray(), SpatialPosition.Bottom);
        foreach (var (position, left, top) in new[]
                 {
                     (SpatialPosition.TopLeft, true, true), (SpatialPosition.TopRight, false, true),
                     (SpatialPosition.BottomLeft, true, false), (SpatialPosition.BottomRight, false, false),
                 })
        {
            // Normalised L1 distance to the corner, scaled by w*h so that it stays exact.
            var distance = Enumerable.Range(0, boxes.Count)
                .Select(i => (left ? cx[i] : w2 - cx[i]) * imageHeight + (top ? cy[i] : h2 - cy[i]) * imageWidth).ToArray();
            if (UniqueMin(distance) is not { } i) continue;
            bool inColumn = left ? 3 * cx[i] < w2 : 3 * cx[i] > 2 * w2;
            bool inRow = top ? 3 * cy[i] < h2 : 3 * cy[i] > 2 * h2;
            if (inColumn && inRow) result.Add((i, position));
        }
        return result;
    }

    private static int? UniqueMin(double[] values)
    {
        int best = 0;
        bool tie = false;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] < values[best]) { best = i; tie = false; }
            else if (values[i] == values[best]) tie = true;
        }
        return tie ? null : best;
    }

    private static Box? KeepBox(Box box, VgImage image, VgTripletOptions options, VgTripletStats stats)
    {
        if (!double.IsFinite(box.X1) || !double.IsFinite(box.Y1) || !double.IsFinite(box.X2) || !double.IsFinite(box.Y2)
            || box.Width <= 0 || box.Height <= 0)
        {
            stats.Drop(VgTripletStats.DropDegenerate);
            return null;
        }
        var clipped = box.ClipTo(image.Width, image.Height);
        if (clipped.Width <= 0 || clipped.Height <= 0)
        {
            stats.Drop(VgTripletStats.DropOutsideImage);
            return null;
        }
        if (clipped.Area < options.MinAreaFraction * image.Width * image.Height)
        {
            stats.Drop(VgTripletStats.DropSmall);
            return null;
        }
        return clipped;
    }
}
