using System.Globalization;

namespace GroundSharp.Eval;

/// <summary>
/// An axis-aligned box in image pixel coordinates: (X1, Y1) is the top-left corner and (X2, Y2) the
/// bottom-right one, so Width = X2 - X1. RefCOCO stores boxes as x,y,w,h (use <see cref="FromXywh(double, double, double, double)"/>, which
/// sets X2 = x + w exactly as the official code computes it); Flickr30k Entities stores x1,y1,x2,y2
/// (use <see cref="FromXyxy(double, double, double, double)"/>). Coordinates are doubles because RefCOCO boxes and detector proposals are
/// fractional.
/// </summary>
public readonly record struct Box(double X1, double Y1, double X2, double Y2)
{
    public double Width => X2 - X1;
    public double Height => Y2 - Y1;
    public double Area => Width * Height;

    public static Box FromXywh(double x, double y, double width, double height) => new(x, y, x + width, y + height);

    public static Box FromXyxy(double x1, double y1, double x2, double y2) => new(x1, y1, x2, y2);

    /// <summary>Reads the first four values of an [x, y, w, h, ...] array (proposal files append a score).</summary>
    public static Box FromXywh(IReadOnlyList<double> xywh)
    {
        if (xywh.Count < 4)
            throw new GroundSharpException($"a box needs 4 values x,y,w,h; got {xywh.Count}");
        return FromXywh(xywh[0], xywh[1], xywh[2], xywh[3]);
    }

    /// <summary>Reads the first four values of an [x1, y1, x2, y2, ...] array.</summary>
    public static Box FromXyxy(IReadOnlyList<double> xyxy)
    {
        if (xyxy.Count < 4)
            throw new GroundSharpException($"a box needs 4 values x1,y1,x2,y2; got {xyxy.Count}");
        return FromXyxy(xyxy[0], xyxy[1], xyxy[2], xyxy[3]);
    }

    public (double X, double Y, double Width, double Height) ToXywh() => (X1, Y1, Width, Height);

    /// <summary>The box cut to the image rectangle [0, width] x [0, height] (may become empty).</summary>
    public Box ClipTo(int imageWidth, int imageHeight) =>
        new(Math.Clamp(X1, 0, imageWidth), Math.Clamp(Y1, 0, imageHeight),
            Math.Clamp(X2, 0, imageWidth), Math.Clamp(Y2, 0, imageHeight));

    /// <summary>Throws unless every coordinate is finite and the corners are ordered (zero size allowed).</summary>
    public Box EnsureWellFormed(string what = "box")
    {
        if (!double.IsFinite(X1) || !double.IsFinite(Y1) || !double.IsFinite(X2) || !double.IsFinite(Y2))
            throw new GroundSharpException($"{what} {this} has a non-finite coordinate");
        if (X2 < X1 || Y2 < Y1)
            throw new GroundSharpException(
                $"{what} {this} has x2 < x1 or y2 < y1 (was an x,y,w,h box read as x1,y1,x2,y2, or the reverse?)");
        return this;
    }

    /// <summary>
    /// Throws unless the box is well formed and has an area: a ground-truth box of zero width or height can never
    /// contain the pointing-game point, so an evaluation would count its phrase as a miss whatever the model does.
    /// </summary>
    public Box EnsureHasArea(string what = "box")
    {
        EnsureWellFormed(what);
        if (Width <= 0 || Height <= 0)
            throw new GroundSharpException($"{what} {this} has zero area (width {Width.ToString(CultureInfo.InvariantCulture)}, height {Height.ToString(CultureInfo.InvariantCulture)}): no point can hit it");
        return this;
    }

    /// <summary>Throws unless the box lies entirely inside the image [0, width] x [0, height].</summary>
    public Box EnsureInside(int imageWidth, int imageHeight, string what = "box")
    {
        EnsureWellFormed(what);
        if (X1 < 0 || Y1 < 0 || X2 > imageWidth || Y2 > imageHeight)
            throw new GroundSharpException(
                $"{what} {this} is not inside the {imageWidth}x{imageHeight} image (width x height)");
        return this;
    }

    /// <summary>
    /// Throws unless the box shares area with the image. Weaker than <see cref="EnsureInside"/>: annotated
    /// boxes sometimes run a little past the border (RefCOCO has such boxes), which the official evaluation accepts.
    /// </summary>
    public Box EnsureOverlapsImage(int imageWidth, int imageHeight, string what = "box")
    {
        EnsureWellFormed(what);
        if (X2 <= 0 || Y2 <= 0 || X1 >= imageWidth || Y1 >= imageHeight)
            throw new GroundSharpException(
                $"{what} {this} lies entirely outside the {imageWidth}x{imageHeight} image (width x height)");
        return this;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[x1 {X1}, y1 {Y1}, x2 {X2}, y2 {Y2}]");
}
