namespace GroundSharp.Data.Synthetic;

/// <summary>Whether a scene may, must not, or must contain a held-out colour–shape pair (<see cref="CompositionalHoldOut"/>).</summary>
public enum HeldOutPolicy { Exclude, Require, Allow }

/// <summary>Knobs of scene generation.</summary>
public sealed record SceneGeneratorOptions
{
    public int Width { get; init; } = 256;
    public int Height { get; init; } = 256;
    /// <summary>Draw each scene's width and height from [0.75, 1.25] × the nominal size (multiples of 8).</summary>
    public bool VarySize { get; init; }
    public int MinObjects { get; init; } = 2;
    public int MaxObjects { get; init; } = 6;
    /// <summary>Probability that a scene has one object partly covering another.</summary>
    public double OcclusionRate { get; init; } = 0.25;
    /// <summary>Probability of a noisy (rather than cluttered) background.</summary>
    public double NoisyRate { get; init; } = 0.5;
    /// <summary>Probability that an object is large.</summary>
    public double LargeRate { get; init; } = 0.4;
    /// <summary>Probability that an object repeats the shape of an earlier one (so spatial and relational phrases are needed).</summary>
    public double RepeatShapeRate { get; init; } = 0.35;
    public HeldOutPolicy HeldOut { get; init; } = HeldOutPolicy.Exclude;

    /// <summary>An occluded object keeps at least this fraction of its pixels visible.</summary>
    public const double MinVisibleFraction = 0.55;
    /// <summary>Blank pixels between the boxes of objects that do not occlude each other, and to the image border.</summary>
    public const int Gap = 3;

    public void Validate()
    {
        if (Width < 64 || Height < 64 || Width > 4096 || Height > 4096)
            throw new GroundSharpException($"image size {Width}x{Height} must be between 64 and 4096 pixels a side");
        if (MinObjects < 1 || MaxObjects < MinObjects || MaxObjects > 8)
            throw new GroundSharpException($"object count range {MinObjects}..{MaxObjects} must satisfy 1 <= min <= max <= 8");
        foreach (var (name, p) in new[] { ("occlusion rate", OcclusionRate), ("noisy rate", NoisyRate), ("large rate", LargeRate), ("repeat-shape rate", RepeatShapeRate) })
            if (!(p >= 0 && p <= 1)) throw new GroundSharpException($"{name} {p} must be between 0 and 1");
    }
}

/// <summary>
/// Draws random scenes: object attributes and positions from the given <see cref="Random"/> only, so a seed
/// fixes the scene. Objects keep a gap between their boxes except for an occasional deliberate occlusion, where a
/// later object covers part (at most 45 %) of an earlier one.
/// </summary>
public static class SceneGenerator
{
    private const int PlacementTries = 80;
    private const int SceneTries = 50;

    public static Scene Generate(Random rng, SceneGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        for (int attempt = 0; attempt < SceneTries; attempt++)
        {
            if (TryGenerate(rng, options) is { } scene) return scene;
        }
        throw new GroundSharpException($"could not place {options.MinObjects} objects in a {options.Width}x{options.Height} image; use a larger image or fewer objects");
    }

    private static Scene? TryGenerate(Random rng, SceneGeneratorOptions o)
    {
        var (w, h) = o.VarySize ? (VariedSide(o.Width, rng), VariedSide(o.Height, rng)) : (o.Width, o.Height);
        var background = rng.NextDouble() < o.NoisyRate ? BackgroundKind.Noisy : BackgroundKind.Cluttered;
        int backgroundSeed = rng.Next();
        int count = rng.Next(o.MinObjects, o.MaxObjects + 1);
        bool occlude = rng.NextDouble() < o.OcclusionRate;
        var objects = new List<SceneObject>();
        int occluded = -1;
        for (int i = 0; i < count; i++)
        {
            ShapeKind shape;
            SynthColour colour;
            SizeClass size;
            TextureKind texture;
            // Redraw an exact twin of an earlier object: every object must be describable by its attributes.
            do
            {
                (shape, colour) = ChooseKind(rng, o, objects, mustBeHeldOut: o.HeldOut == HeldOutPolicy.Require && i == 0);
                size = rng.NextDouble() < o.LargeRate ? SizeClass.Large : SizeClass.Small;
                texture = Words.Textures[rng.Next(Words.Textures.Count)];
            }
            while (objects.Any(p => p.Shape == shape && p.Colour == colour && p.Size == size && p.Texture == texture));
            var (minSide, maxSide) = SizeRules.SideRange(size, w, h);
            bool tryOcclusion = occlude && occluded < 0 && objects.Count > 0;
            SceneObject? placed = null;
            for (int t = 0; t < PlacementTries && placed is null; t++)
            {
                int side = rng.Next(minSide, maxSide + 1);
                if (tryOcclusion)
                {
                    int victim = rng.Next(objects.Count);
                    var v = objects[victim].Box;
                    int left = rng.Next((int)v.X1 - side + side / 3, (int)v.X2 - side / 3 + 1);
                    int top = rng.Next((int)v.Y1 - side + side / 3, (int)v.Y2 - side / 3 + 1);
                    var candidate = new SceneObject(shape, colour, size, texture, left, top, side);
                    if (FitsWithOcclusion(candidate, objects, victim, w, h)) { placed = candidate; occluded = victim; }
                }
                else
                {
                    int left = rng.Next(SceneGeneratorOptions.Gap, Math.Max(SceneGeneratorOptions.Gap + 1, w - side - SceneGeneratorOptions.Gap + 1));
                    int top = rng.Next(SceneGeneratorOptions.Gap, Math.Max(SceneGeneratorOptions.Gap + 1, h - side - SceneGeneratorOptions.Gap + 1));
                    var candidate = new SceneObject(shape, colour, size, texture, left, top, side);
                    if (Inside(candidate, w, h) && objects.All(p => Apart(candidate, p))) placed = candidate;
                }
            }
            if (placed is null)
            {
                if (i == 0 && o.HeldOut == HeldOutPolicy.Require) return null;
                continue;
            }
            objects.Add(placed);
        }
        return objects.Count >= o.MinObjects ? new Scene(w, h, background, backgroundSeed, objects) : null;
    }

    private static int VariedSide(int nominal, Random rng) => Math.Max(64, (int)Math.Round(nominal * (0.75 + 0.5 * rng.NextDouble()) / 8) * 8);

    private static (ShapeKind, SynthColour) ChooseKind(Random rng, SceneGeneratorOptions o, List<SceneObject> placed, bool mustBeHeldOut)
    {
        if (mustBeHeldOut)
        {
            var (heldColour, heldShape) = CompositionalHoldOut.Pairs[rng.Next(CompositionalHoldOut.Pairs.Count)];
            return (heldShape, heldColour);
        }
        while (true)
        {
            var shape = placed.Count > 0 && rng.NextDouble() < o.RepeatShapeRate
                ? placed[rng.Next(placed.Count)].Shape
                : Words.Shapes[rng.Next(Words.Shapes.Count)];
            var colour = SynthColour.All[rng.Next(SynthColour.All.Count)];
            if (o.HeldOut == HeldOutPolicy.Exclude && CompositionalHoldOut.IsHeldOut(colour, shape)) continue;
            return (shape, colour);
        }
    }

    private static bool Inside(SceneObject c, int w, int h) =>
        c.Box.X1 >= SceneGeneratorOptions.Gap && c.Box.Y1 >= SceneGeneratorOptions.Gap &&
        c.Box.X2 <= w - SceneGeneratorOptions.Gap && c.Box.Y2 <= h - SceneGeneratorOptions.Gap;

    private static bool Apart(SceneObject a, SceneObject b)
    {
        var (p, q) = (a.Box, b.Box);
        int g = SceneGeneratorOptions.Gap;
        return p.X2 + g <= q.X1 || q.X2 + g <= p.X1 || p.Y2 + g <= q.Y1 || q.Y2 + g <= p.Y1;
    }

    // The occluder overlaps only its victim, which keeps between MinVisibleFraction and 90 % of its pixels.
    private static bool FitsWithOcclusion(SceneObject candidate, List<SceneObject> objects, int victim, int w, int h)
    {
        if (!Inside(candidate, w, h)) return false;
        for (int i = 0; i < objects.Count; i++)
            if (i != victim && !Apart(candidate, objects[i])) return false;
        var pair = new Scene(w, h, BackgroundKind.Noisy, 0, new[] { objects[victim], candidate });
        double visible = pair.VisibleFractions()[0];
        return visible >= SceneGeneratorOptions.MinVisibleFraction && visible <= 0.9;
    }
}
