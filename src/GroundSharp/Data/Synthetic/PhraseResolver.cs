namespace GroundSharp.Data.Synthetic;

public enum RelationTruth { Holds, Borderline, Fails }

/// <summary>
/// The thresholds that decide when a spatial or relational phrase is unambiguous, as fractions of the image
/// (docs/synthetic-benchmark.md, "Ambiguity rules").
/// </summary>
public static class AmbiguityRules
{
    /// <summary>"leftmost"/"on the left": the extreme object's centre must beat every other candidate's by this fraction of the image width (height for top/bottom).</summary>
    public const double ExtremeMargin = 0.10;
    /// <summary>"next to": box gap at most this fraction of the shorter image side.</summary>
    public const double NearGap = 0.06;
    /// <summary>"next to" clearly fails from this gap on; between the two it is borderline.</summary>
    public const double FarGap = 0.20;
}

/// <summary>
/// Resolves a referring expression against a scene: which objects it may refer to, and whether it refers to
/// exactly one without ambiguity. The generator emits a phrase only when <see cref="Referent"/> gives its object.
/// </summary>
public static class PhraseResolver
{
    public static IReadOnlyList<int> Candidates(Scene scene, ObjectDescription description) =>
        Enumerable.Range(0, scene.Objects.Count).Where(i => description.Matches(scene.Objects[i])).ToList();

    /// <summary>
    /// The objects the phrase could be taken to mean: all matches of an attribute phrase; the candidates within
    /// the margin of the extreme for a spatial one; the candidates not clearly failing the relation to an anchor
    /// for a relational one.
    /// </summary>
    public static IReadOnlyList<int> Resolve(Scene scene, ReferringExpression expression)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var candidates = Candidates(scene, expression.Target);
        switch (expression)
        {
            case AttributeExpression:
                return candidates;
            case SpatialExpression s:
                if (candidates.Count == 0) return candidates;
                double margin = AmbiguityRules.ExtremeMargin * (s.Extreme is SpatialExtreme.Left or SpatialExtreme.Right ? scene.Width : scene.Height);
                double best = candidates.Min(i => ExtremeKey(scene.Objects[i], s.Extreme));
                return candidates.Where(i => ExtremeKey(scene.Objects[i], s.Extreme) - best < margin).ToList();
            case RelationalExpression r:
                var anchors = Candidates(scene, r.Anchor);
                return candidates.Where(i => anchors.Any(a => a != i &&
                    Relation(scene, scene.Objects[i], r.Relation, scene.Objects[a]) != RelationTruth.Fails)).ToList();
            default:
                throw new ArgumentException($"unknown expression type {expression.GetType().Name}", nameof(expression));
        }
    }

    /// <summary>
    /// The one object the phrase unambiguously refers to, or null: an attribute phrase must match one object; a
    /// spatial one needs at least two candidates (it contrasts them) and one extreme by the margin; a relational
    /// one needs a unique anchor, one candidate not clearly failing the relation, and the relation to hold for it.
    /// </summary>
    public static int? Referent(Scene scene, ReferringExpression expression)
    {
        var resolved = Resolve(scene, expression);
        if (resolved.Count != 1) return null;
        int target = resolved[0];
        switch (expression)
        {
            case SpatialExpression:
                return Candidates(scene, expression.Target).Count >= 2 ? target : null;
            case RelationalExpression r:
                var anchors = Candidates(scene, r.Anchor);
                if (anchors.Count != 1 || anchors[0] == target) return null;
                return Relation(scene, scene.Objects[target], r.Relation, scene.Objects[anchors[0]]) == RelationTruth.Holds ? target : null;
            default:
                return target;
        }
    }

    private static double ExtremeKey(SceneObject o, SpatialExtreme e) => e switch
    {
        SpatialExtreme.Left => o.CentreX,
        SpatialExtreme.Right => -o.CentreX,
        SpatialExtreme.Top => o.CentreY,
        _ => -o.CentreY,
    };

    /// <summary>
    /// Whether "a &lt;relation&gt; b" is true. Above/below/left/right hold when a's box lies wholly on that side of
    /// b's and the two overlap in the other axis (directly above, etc.); they clearly fail when a's centre is not
    /// on that side of b's at all; anything between is borderline. "Next to" holds for a box gap up to
    /// <see cref="AmbiguityRules.NearGap"/> and clearly fails from <see cref="AmbiguityRules.FarGap"/>.
    /// </summary>
    public static RelationTruth Relation(Scene scene, SceneObject a, SpatialRelation relation, SceneObject b)
    {
        var (p, q) = (a.Box, b.Box);
        bool xOverlap = p.X1 < q.X2 && q.X1 < p.X2, yOverlap = p.Y1 < q.Y2 && q.Y1 < p.Y2;
        switch (relation)
        {
            case SpatialRelation.Above:
                return p.Y2 <= q.Y1 && xOverlap ? RelationTruth.Holds : a.CentreY >= b.CentreY ? RelationTruth.Fails : RelationTruth.Borderline;
            case SpatialRelation.Below:
                return q.Y2 <= p.Y1 && xOverlap ? RelationTruth.Holds : a.CentreY <= b.CentreY ? RelationTruth.Fails : RelationTruth.Borderline;
            case SpatialRelation.LeftOf:
                return p.X2 <= q.X1 && yOverlap ? RelationTruth.Holds : a.CentreX >= b.CentreX ? RelationTruth.Fails : RelationTruth.Borderline;
            case SpatialRelation.RightOf:
                return q.X2 <= p.X1 && yOverlap ? RelationTruth.Holds : a.CentreX <= b.CentreX ? RelationTruth.Fails : RelationTruth.Borderline;
            default:
                double shorter = Math.Min(scene.Width, scene.Height);
                double gap = Math.Max(Math.Max(p.X1, q.X1) - Math.Min(p.X2, q.X2), Math.Max(p.Y1, q.Y1) - Math.Min(p.Y2, q.Y2));
                gap = Math.Max(0, gap);
                return gap <= AmbiguityRules.NearGap * shorter ? RelationTruth.Holds
                     : gap >= AmbiguityRules.FarGap * shorter ? RelationTruth.Fails : RelationTruth.Borderline;
        }
    }
}
