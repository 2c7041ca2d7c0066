using GroundSharp.Eval;

namespace GroundSharp.Data.Synthetic;

/// <summary>
/// Rasterises shapes by testing each pixel centre against the shape's exact geometry, in plain IEEE double
/// arithmetic with constant vertices (no trigonometry, no antialiasing): the same object gives the same pixels
/// on every machine, and an object's box is exactly the extent of its pixels.
/// </summary>
public static class ShapeRaster
{
    private const double Sqrt3 = 1.7320508075688772;

    // Five-pointed star, outer radius 1 and inner radius 0.45, point up: cos/sin of multiples of 36 degrees.
    private static readonly (double X, double Y)[] Star = BuildStar();

    private static (double, double)[] BuildStar()
    {
        const double c18 = 0.9510565162951535, s18 = 0.3090169943749474, c54 = 0.5877852522924731, s54 = 0.8090169943749475;
        const double inner = 0.45;
        (double, double)[] outer = { (0, -1), (c18, -s18), (c54, s54), (-c54, s54), (-c18, -s18) };
        (double, double)[] inside = { (c54 * inner, -s54 * inner), (c18 * inner, s18 * inner), (0, inner), (-c18 * inner, s18 * inner), (-c54 * inner, -s54 * inner) };
        var v = new (double, double)[10];
        for (int i = 0; i < 5; i++) { v[2 * i] = outer[i]; v[2 * i + 1] = inside[i]; }
        return v;
    }

    /// <summary>Whether the point (u, v) of the unit square [-1, 1]² (v down) lies in the shape.</summary>
    public static bool Contains(ShapeKind shape, double u, double v)
    {
        double au = Math.Abs(u), av = Math.Abs(v), r2 = u * u + v * v;
        return shape switch
        {
            ShapeKind.Circle => r2 <= 1,
            ShapeKind.Square => au <= 0.88 && av <= 0.88,
            ShapeKind.Triangle => v >= -0.9 && v <= 0.9 && au <= 0.95 * (v + 0.9) / 1.8,
            ShapeKind.Diamond => au + av <= 1,
            ShapeKind.Cross => (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95),
            ShapeKind.Ring => r2 <= 1 && r2 >= 0.3025,
            ShapeKind.Hexagon => av <= Sqrt3 / 2 && Sqrt3 * au + av <= Sqrt3,
            ShapeKind.Star => InPolygon(Star, u, v),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, null),
        };
    }

    private static bool InPolygon((double X, double Y)[] poly, double u, double v)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (xi, yi) = poly[i];
            var (xj, yj) = poly[j];
            if ((yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }

    /// <summary>Whether pixel (x, y) of the image belongs to the object (its centre lies in the shape).</summary>
    public static bool Covers(SceneObject o, int x, int y)
    {
        int lx = x - o.Left, ly = y - o.Top;
        if (lx < 0 || ly < 0 || lx >= o.Side || ly >= o.Side) return false;
        return Contains(o.Shape, (2.0 * lx + 1) / o.Side - 1, (2.0 * ly + 1) / o.Side - 1);
    }

    /// <summary>Calls <paramref name="visit"/> for each of the object's pixels that lies inside a width×height image.</summary>
    public static void ForEachPixel(SceneObject o, int width, int height, Action<int, int> visit)
    {
        int x0 = Math.Max(0, o.Left), y0 = Math.Max(0, o.Top);
        int x1 = Math.Min(width, o.Left + o.Side), y1 = Math.Min(height, o.Top + o.Side);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                if (Covers(o, x, y)) visit(x, y);
    }

    public static int PixelCount(SceneObject o, int width, int height)
    {
        int n = 0;
        ForEachPixel(o, width, height, (_, _) => n++);
        return n;
    }

    /// <summary>The bounding box of the object's pixels (x2/y2 exclusive), ignoring image borders.</summary>
    public static Box Extent(SceneObject o)
    {
        int minX = int.MaxValue, minY = int.MaxValue, maxX = int.MinValue, maxY = int.MinValue;
        for (int ly = 0; ly < o.Side; ly++)
            for (int lx = 0; lx < o.Side; lx++)
            {
                if (!Covers(o, o.Left + lx, o.Top + ly)) continue;
                minX = Math.Min(minX, lx); maxX = Math.Max(maxX, lx);
                minY = Math.Min(minY, ly); maxY = Math.Max(maxY, ly);
            }
        if (maxX < 0) throw new ArgumentException($"a {o.Side}-pixel {Words.Of(o.Shape)} covers no pixel centre");
        return new Box(o.Left + minX, o.Top + minY, o.Left + maxX + 1, o.Top + maxY + 1);
    }
}
