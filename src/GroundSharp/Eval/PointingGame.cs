using GroundSharp.Data.Benchmarks;

namespace GroundSharp.Eval;

/// <summary>The pointing game's hit rule.</summary>
public static class PointingGame
{
    /// <summary>
    /// True when the point lies strictly inside the box: x1 &lt; x &lt; x2 and y1 &lt; y &lt; y2. A point on
    /// an edge is a miss, as in the official <c>point_in_box</c> / <c>point_in_box_xyxy</c>.
    /// </summary>
    public static bool IsInside((int X, int Y) point, Box box) =>
        point.X > box.X1 && point.X < box.X2 && point.Y > box.Y1 && point.Y < box.Y2;

    /// <summary>A hit when the point is strictly inside any of the ground-truth boxes.</summary>
    public static bool IsHit((int X, int Y) point, IEnumerable<Box> gtBoxes)
    {
        foreach (var box in gtBoxes)
            if (IsInside(point, box))
                return true;
        return false;
    }

    /// <summary>
    /// A phrase-blind reference accuracy: point at the centre of one of the image's annotated boxes (the boxes of
    /// all items on the same image), chosen uniformly, and average the hit probability over the items. A model that
    /// knows where the objects are but not which one the phrase names scores about this.
    /// </summary>
    public static double RandomAnnotatedObject(IReadOnlyList<GroundingEvalItem> items)
    {
        if (items.Count == 0) return double.NaN;
        var boxesByImage = items.GroupBy(i => i.ImagePath)
            .ToDictionary(g => g.Key, g => g.SelectMany(i => i.GtBoxes).Distinct().ToList());
        double sum = 0;
        foreach (var item in items)
        {
            var boxes = boxesByImage[item.ImagePath];
            sum += boxes.Count(b => IsHit(Centre(b), item.GtBoxes)) / (double)boxes.Count;
        }
        return sum / items.Count;

        static (int X, int Y) Centre(Box b) => ((int)Math.Round((b.X1 + b.X2) / 2), (int)Math.Round((b.Y1 + b.Y2) / 2));
    }

    /// <summary>
    /// Pair accuracy (phrase specificity): over the pairs of phrases of one image that name different objects
    /// (their ground-truth box sets differ), the pairs where both phrases are hits. A model that points at the same
    /// object whatever the phrase scores near 0 (at most one of the two can be hit), an oracle 1.
    /// </summary>
    /// <param name="phrases">The phrases of one image: each one's ground-truth boxes and whether it was a hit.</param>
    public static HitCount PairsOfImage(IReadOnlyList<(IReadOnlyList<Box> GtBoxes, bool Hit)> phrases)
    {
        var count = new HitCount(0, 0);
        for (int i = 0; i < phrases.Count; i++)
            for (int j = i + 1; j < phrases.Count; j++)
                if (!SameObject(phrases[i].GtBoxes, phrases[j].GtBoxes))
                    count = count.Add(phrases[i].Hit && phrases[j].Hit);
        return count;

        static bool SameObject(IReadOnlyList<Box> a, IReadOnlyList<Box> b) => a.ToHashSet().SetEquals(b);
    }
}
