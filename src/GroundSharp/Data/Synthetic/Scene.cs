using GroundSharp.Eval;

namespace GroundSharp.Data.Synthetic;

/// <summary>
/// One drawn object: its attributes and the square (<see cref="Left"/>, <see cref="Top"/>, <see cref="Side"/>)
/// its shape is rasterised in. <see cref="Box"/> is the exact extent of its pixels (x2/y2 exclusive) — the full
/// (amodal) extent even where a later object covers part of it.
/// </summary>
public sealed class SceneObject
{
    public SceneObject(ShapeKind shape, SynthColour colour, SizeClass size, TextureKind texture, int left, int top, int side)
    {
        ArgumentNullException.ThrowIfNull(colour);
        if (side < 4) throw new ArgumentOutOfRangeException(nameof(side), $"object side {side} must be at least 4 pixels");
        Shape = shape;
        Colour = colour;
        Size = size;
        Texture = texture;
        Left = left;
        Top = top;
        Side = side;
        Box = ShapeRaster.Extent(this);
    }

    public ShapeKind Shape { get; }
    public SynthColour Colour { get; }
    public SizeClass Size { get; }
    public TextureKind Texture { get; }
    public int Left { get; }
    public int Top { get; }
    public int Side { get; }
    public Box Box { get; }
    public double CentreX => (Box.X1 + Box.X2) / 2;
    public double CentreY => (Box.Y1 + Box.Y2) / 2;

    public override string ToString() =>
        $"{Words.Of(Size)} {Colour.Name} {Words.Of(Texture)} {Words.Of(Shape)} at {Box}";
}

/// <summary>
/// A scene: its size, background, and objects in drawing order (a later object is drawn over an earlier one).
/// <see cref="BackgroundSeed"/> drives the background's clutter or noise.
/// </summary>
public sealed record Scene(int Width, int Height, BackgroundKind Background, int BackgroundSeed, IReadOnlyList<SceneObject> Objects)
{
    /// <summary>For each object, how many of its pixels no later object covers.</summary>
    public int[] VisiblePixelCounts()
    {
        var owner = new int[Width * Height];
        Array.Fill(owner, -1);
        for (int i = 0; i < Objects.Count; i++)
            ShapeRaster.ForEachPixel(Objects[i], Width, Height, (x, y) => owner[y * Width + x] = i);
        var counts = new int[Objects.Count];
        foreach (var o in owner) if (o >= 0) counts[o]++;
        return counts;
    }

    /// <summary>For each object, the fraction of its pixels (inside the image) that stay visible.</summary>
    public double[] VisibleFractions()
    {
        var visible = VisiblePixelCounts();
        return Objects.Select((o, i) => (double)visible[i] / ShapeRaster.PixelCount(o, Width, Height)).ToArray();
    }
}
