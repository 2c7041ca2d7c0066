namespace GroundSharp.Data.Synthetic;

public enum ShapeKind { Circle, Square, Triangle, Star, Cross, Ring, Diamond, Hexagon }

public enum TextureKind { Solid, Striped, Dotted, Checkered }

/// <summary>
/// Two disjoint size ranges relative to the image's shorter side (see <see cref="SizeRules"/>), so "small" and
/// "large" are true of an object on its own, whatever else is in the scene.
/// </summary>
public enum SizeClass { Small, Large }

public enum BackgroundKind { Cluttered, Noisy }

/// <summary>A named object colour; the name is the word used in captions and phrases.</summary>
public sealed record SynthColour(string Name, byte R, byte G, byte B)
{
    public static readonly SynthColour Red = new("red", 220, 30, 30);
    public static readonly SynthColour Green = new("green", 30, 165, 50);
    public static readonly SynthColour Blue = new("blue", 40, 70, 225);
    public static readonly SynthColour Yellow = new("yellow", 245, 220, 30);
    public static readonly SynthColour Purple = new("purple", 140, 50, 185);
    public static readonly SynthColour Orange = new("orange", 250, 140, 20);
    public static readonly SynthColour White = new("white", 250, 250, 250);
    public static readonly SynthColour Black = new("black", 15, 15, 15);

    public static IReadOnlyList<SynthColour> All { get; } = new[] { Red, Green, Blue, Yellow, Purple, Orange, White, Black };

    public static SynthColour Named(string name) =>
        All.FirstOrDefault(c => c.Name == name) ?? throw new GroundSharpException($"unknown colour \"{name}\"");

    public override string ToString() => Name;
}

/// <summary>The words for shapes, textures and sizes.</summary>
public static class Words
{
    public static IReadOnlyList<ShapeKind> Shapes { get; } = Enum.GetValues<ShapeKind>();
    public static IReadOnlyList<TextureKind> Textures { get; } = Enum.GetValues<TextureKind>();

    public static string Of(ShapeKind shape) => shape.ToString().ToLowerInvariant();
    public static string Of(TextureKind texture) => texture.ToString().ToLowerInvariant();
    public static string Of(SizeClass size) => size == SizeClass.Small ? "small" : "large";
    public static string Of(BackgroundKind background) => background == BackgroundKind.Noisy ? "noisy" : "cluttered";

    /// <summary>"a" or "an" for the word that follows.</summary>
    public static string Article(string nextWord) => "aeiou".Contains(nextWord[0]) ? "an" : "a";
}

/// <summary>Side lengths of the two size classes, as fractions of min(width, height).</summary>
public static class SizeRules
{
    public const double SmallMin = 0.12, SmallMax = 0.17;
    public const double LargeMin = 0.25, LargeMax = 0.33;

    public static (int Min, int Max) SideRange(SizeClass size, int width, int height)
    {
        int shorter = Math.Min(width, height);
        var (lo, hi) = size == SizeClass.Small ? (SmallMin, SmallMax) : (LargeMin, LargeMax);
        return ((int)Math.Round(shorter * lo), (int)Math.Round(shorter * hi));
    }
}

/// <summary>
/// The colour–shape pairs held out of every split but <c>test-compositional</c>: each colour and each shape
/// occurs in exactly one pair, so every word is still seen with seven partners during training.
/// </summary>
public static class CompositionalHoldOut
{
    public static IReadOnlyList<(SynthColour Colour, ShapeKind Shape)> Pairs { get; } = new[]
    {
        (SynthColour.Red, ShapeKind.Square),
        (SynthColour.Green, ShapeKind.Triangle),
        (SynthColour.Blue, ShapeKind.Star),
        (SynthColour.Yellow, ShapeKind.Circle),
        (SynthColour.Purple, ShapeKind.Cross),
        (SynthColour.Orange, ShapeKind.Ring),
        (SynthColour.White, ShapeKind.Diamond),
        (SynthColour.Black, ShapeKind.Hexagon),
    };

    public static bool IsHeldOut(SynthColour colour, ShapeKind shape) =>
        Pairs.Any(p => p.Colour == colour && p.Shape == shape);

    public static bool IsHeldOut(SceneObject o) => IsHeldOut(o.Colour, o.Shape);
}
