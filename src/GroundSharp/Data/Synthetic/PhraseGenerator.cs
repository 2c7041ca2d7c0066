using GroundSharp.Eval;

namespace GroundSharp.Data.Synthetic;

/// <summary>A phrase with the object it refers to and that object's box.</summary>
public sealed record GroundedPhrase(ReferringExpression Expression, int ObjectIndex, ShapeKind Shape, Box Box)
{
    public string Text => Expression.Text;
    public PhraseCategory Category => Expression.Category;

    /// <summary>"relational/star": the phrase type, then the referred object's shape (a Flickr30k-style type list).</summary>
    public string CategoryLabel => $"{Category.ToString().ToLowerInvariant()}/{Words.Of(Shape)}";
}

/// <summary>How many phrases of each kind a scene gets.</summary>
public sealed record PhraseOptions(int MaxSpatial = 2, int MaxRelational = 2);

/// <summary>
/// Generates region phrases for a scene: one attribute phrase per object that can be singled out by its
/// attributes, a few spatial and relational phrases. Every phrase is checked with
/// <see cref="PhraseResolver.Referent"/> before it is emitted, so none is ambiguous.
/// </summary>
public static class PhraseGenerator
{
    private enum AttributeKind { Colour, Size, Texture }

    private static readonly AttributeKind[][] AttributeSubsets = BuildSubsets();

    private static AttributeKind[][] BuildSubsets()
    {
        var all = new[] { AttributeKind.Colour, AttributeKind.Size, AttributeKind.Texture };
        return Enumerable.Range(0, 8)
            .Select(mask => all.Where((_, bit) => (mask & (1 << bit)) != 0).ToArray())
            .OrderBy(s => s.Length).ToArray();
    }

    public static IReadOnlyList<GroundedPhrase> Generate(Scene scene, Random rng, PhraseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentNullException.ThrowIfNull(rng);
        options ??= new PhraseOptions();
        var phrases = new List<GroundedPhrase>();
        for (int i = 0; i < scene.Objects.Count; i++)
        {
            bool heldOut = CompositionalHoldOut.IsHeldOut(scene.Objects[i]);
            if (AttributePhrase(scene, i, rng, requireColour: heldOut) is { } a) phrases.Add(Ground(scene, a));
        }
        var spatial = SpatialOptions(scene);
        Shuffle(spatial, rng);
        phrases.AddRange(spatial.Take(options.MaxSpatial).Select(e => Ground(scene, e)));
        phrases.AddRange(RelationalOptions(scene, rng).Take(options.MaxRelational).Select(e => Ground(scene, e)));
        return phrases;
    }

    private static GroundedPhrase Ground(Scene scene, ReferringExpression e)
    {
        int index = PhraseResolver.Referent(scene, e)
            ?? throw new InvalidOperationException($"generated an ambiguous phrase \"{e.Text}\"");
        var o = scene.Objects[index];
        return new GroundedPhrase(e, index, o.Shape, o.Box);
    }

    /// <summary>
    /// The shortest attribute description naming the object's shape that matches it alone (a random one among
    /// equally short ones, sometimes with one extra attribute for variety); null when even all attributes match
    /// another object too. With <paramref name="requireColour"/> the description always names the colour.
    /// </summary>
    public static AttributeExpression? AttributePhrase(Scene scene, int target, Random rng, bool requireColour = false)
    {
        var unique = UniqueDescriptions(scene, target, requireColour);
        if (unique.Count == 0) return null;
        int shortest = unique.Min(u => u.Length);
        var pool = unique.Where(u => u.Length == shortest).ToList();
        if (shortest < 3 && rng.NextDouble() < 0.3) pool = unique.Where(u => u.Length == shortest + 1).ToList();
        var chosen = pool[rng.Next(pool.Count)];
        return new AttributeExpression(Describe(scene.Objects[target], chosen));
    }

    private static List<AttributeKind[]> UniqueDescriptions(Scene scene, int target, bool requireColour) =>
        AttributeSubsets
            .Where(s => !requireColour || s.Contains(AttributeKind.Colour))
            .Where(s => PhraseResolver.Referent(scene, new AttributeExpression(Describe(scene.Objects[target], s))) == target)
            .ToList();

    private static ObjectDescription Describe(SceneObject o, IReadOnlyCollection<AttributeKind> attributes) => new(
        o.Shape,
        attributes.Contains(AttributeKind.Colour) ? o.Colour : null,
        attributes.Contains(AttributeKind.Size) ? o.Size : null,
        attributes.Contains(AttributeKind.Texture) ? o.Texture : null);

    // "the leftmost object" and "the <shape> on the left" for every extreme that is clear by the margin.
    private static List<ReferringExpression> SpatialOptions(Scene scene)
    {
        var found = new List<ReferringExpression>();
        var descriptions = new List<ObjectDescription> { ObjectDescription.AnyObject };
        descriptions.AddRange(scene.Objects.Select(o => o.Shape).Distinct().Order().Select(s => new ObjectDescription(s)));
        foreach (var d in descriptions)
            foreach (var extreme in Enum.GetValues<SpatialExtreme>())
            {
                var e = new SpatialExpression(d, extreme);
                if (PhraseResolver.Referent(scene, e) is not null) found.Add(e);
            }
        return found;
    }

    // For each object, at most one relational phrase: a relation that holds to an anchor named by its attributes,
    // with the shortest target description that makes the whole phrase unambiguous. Phrases whose target shape
    // alone is ambiguous come first (there the relation does the work).
    private static List<ReferringExpression> RelationalOptions(Scene scene, Random rng)
    {
        var needRelation = new List<ReferringExpression>();
        var others = new List<ReferringExpression>();
        for (int t = 0; t < scene.Objects.Count; t++)
        {
            var target = scene.Objects[t];
            var choices = new List<ReferringExpression>();
            for (int a = 0; a < scene.Objects.Count; a++)
            {
                if (a == t) continue;
                if (AttributePhrase(scene, a, rng, requireColour: true) is not { } anchor) continue;
                foreach (var relation in Enum.GetValues<SpatialRelation>())
                {
                    if (PhraseResolver.Relation(scene, target, relation, scene.Objects[a]) != RelationTruth.Holds) continue;
                    foreach (var subset in AttributeSubsets.Where(s => s.Length <= 1))
                    {
                        var e = new RelationalExpression(Describe(target, subset), relation, anchor.Target);
                        if (PhraseResolver.Referent(scene, e) == t) { choices.Add(e); break; }
                    }
                }
            }
            if (choices.Count == 0) continue;
            var pick = choices[rng.Next(choices.Count)];
            bool shapeAloneAmbiguous = PhraseResolver.Candidates(scene, new ObjectDescription(target.Shape)).Count > 1;
            (shapeAloneAmbiguous ? needRelation : others).Add(pick);
        }
        Shuffle(needRelation, rng);
        Shuffle(others, rng);
        return needRelation.Concat(others).ToList();
    }

    private static void Shuffle<T>(List<T> list, Random rng)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>Image-level captions: every object, left to right, with some of its attributes, and the background.</summary>
public static class CaptionGenerator
{
    /// <summary>"a red circle, a small blue striped square and a green star on a noisy background".</summary>
    public static string Caption(Scene scene, Random rng)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var parts = scene.Objects.OrderBy(o => o.CentreX).ThenBy(o => o.CentreY).Select(o =>
        {
            var d = new ObjectDescription(o.Shape, o.Colour,
                rng.NextDouble() < 0.5 ? o.Size : null,
                o.Texture != TextureKind.Solid && rng.NextDouble() < 0.6 ? o.Texture : null);
            string words = d.Words;
            return $"{Words.Article(words)} {words}";
        }).ToList();
        string objects = parts.Count == 1 ? parts[0] : string.Join(", ", parts.Take(parts.Count - 1)) + " and " + parts[^1];
        return $"{objects} on a {Words.Of(scene.Background)} background";
    }

    /// <summary>
    /// Image-level tags, as ImageNet's labels for DeiT (what occurs, no boxes): per object its colour, shape,
    /// colour and shape, size and shape, texture and shape (not solid); and the background. Sorted, distinct.
    /// </summary>
    public static IReadOnlyList<string> Tags(Scene scene)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var tags = new SortedSet<string>(StringComparer.Ordinal) { Words.Of(scene.Background) + " background" };
        foreach (var o in scene.Objects)
        {
            string shape = Words.Of(o.Shape);
            tags.Add(o.Colour.Name);
            tags.Add(shape);
            tags.Add($"{o.Colour.Name} {shape}");
            tags.Add($"{Words.Of(o.Size)} {shape}");
            if (o.Texture != TextureKind.Solid) tags.Add($"{Words.Of(o.Texture)} {shape}");
        }
        return tags.ToList();
    }
}
