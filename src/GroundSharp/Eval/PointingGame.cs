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
}
