using SkiaSharp;

namespace GroundSharp.Data.Synthetic;

/// <summary>
/// Draws a <see cref="Scene"/> pixel by pixel (integer arithmetic and <see cref="ShapeRaster"/>), so the image
/// depends only on the scene; SkiaSharp only encodes the PNG.
/// </summary>
public static class SceneRenderer
{
    public static RgbImage Render(Scene scene)
    {
        ArgumentNullException.ThrowIfNull(scene);
        int w = scene.Width, h = scene.Height;
        var px = new byte[w * h * 3];
        var rng = new Random(scene.BackgroundSeed);
        var baseColour = BackgroundColour(rng);
        for (int i = 0; i < px.Length; i += 3) { px[i] = baseColour.R; px[i + 1] = baseColour.G; px[i + 2] = baseColour.B; }
        if (scene.Background == BackgroundKind.Noisy) AddNoise(px, rng);
        else AddClutter(px, w, h, baseColour, rng);
        foreach (var o in scene.Objects) DrawObject(px, w, h, o);
        return new RgbImage(w, h, px);
    }

    /// <summary>The rendered scene as PNG bytes (the same bytes for the same scene and SkiaSharp version).</summary>
    public static byte[] EncodePng(RgbImage image)
    {
        using var bitmap = image.ToSKBitmap();
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    // A mid-tone, slightly tinted grey: every object colour, white and black included, stands out against it.
    private static (byte R, byte G, byte B) BackgroundColour(Random rng)
    {
        int grey = rng.Next(105, 156);
        return (Clamp(grey + rng.Next(-12, 13)), Clamp(grey + rng.Next(-12, 13)), Clamp(grey + rng.Next(-12, 13)));
    }

    private static void AddNoise(byte[] px, Random rng)
    {
        for (int i = 0; i < px.Length; i += 3)
        {
            int d = rng.Next(-22, 23);
            px[i] = Clamp(px[i] + d); px[i + 1] = Clamp(px[i + 1] + d); px[i + 2] = Clamp(px[i + 2] + d);
        }
    }

    // Faint lines and blobs: texture-like distractors that are clearly not objects (low contrast, no object colour).
    private static void AddClutter(byte[] px, int w, int h, (byte R, byte G, byte B) bg, Random rng)
    {
        int shorter = Math.Min(w, h);
        int blobs = rng.Next(4, 10);
        for (int b = 0; b < blobs; b++)
        {
            var c = Faint(bg, rng, 10, 26);
            int cx = rng.Next(w), cy = rng.Next(h), rx = rng.Next(4, Math.Max(5, shorter / 8)), ry = rng.Next(4, Math.Max(5, shorter / 8));
            for (int y = Math.Max(0, cy - ry); y < Math.Min(h, cy + ry + 1); y++)
                for (int x = Math.Max(0, cx - rx); x < Math.Min(w, cx + rx + 1); x++)
                {
                    long dx = x - cx, dy = y - cy;
                    if (dx * dx * ry * ry + dy * dy * rx * rx <= (long)rx * rx * ry * ry) Set(px, w, x, y, c);
                }
        }
        int lines = rng.Next(8, 17);
        for (int l = 0; l < lines; l++)
        {
            var c = Faint(bg, rng, 15, 35);
            int thickness = rng.Next(1, 3);
            DrawLine(px, w, h, rng.Next(w), rng.Next(h), rng.Next(w), rng.Next(h), thickness, c);
        }
    }

    private static (byte, byte, byte) Faint((byte R, byte G, byte B) bg, Random rng, int min, int max)
    {
        int d = rng.Next(min, max + 1) * (rng.Next(2) == 0 ? -1 : 1);
        return (Clamp(bg.R + d), Clamp(bg.G + d), Clamp(bg.B + d));
    }

    // Bresenham, each step plotting a thickness×thickness square.
    private static void DrawLine(byte[] px, int w, int h, int x0, int y0, int x1, int y1, int thickness, (byte, byte, byte) c)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            for (int ty = 0; ty < thickness; ty++)
                for (int tx = 0; tx < thickness; tx++)
                    if (x0 + tx < w && y0 + ty < h) Set(px, w, x0 + tx, y0 + ty, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    private static void DrawObject(byte[] px, int w, int h, SceneObject o)
    {
        var main = (o.Colour.R, o.Colour.G, o.Colour.B);
        var shade = PatternShade(o.Colour);
        ShapeRaster.ForEachPixel(o, w, h, (x, y) =>
            Set(px, w, x, y, IsPatternPixel(o.Texture, x - o.Left, y - o.Top, o.Side) ? shade : main));
    }

    /// <summary>Whether the texture paints pixel (lx, ly) of an object's square in its pattern shade.</summary>
    public static bool IsPatternPixel(TextureKind texture, int lx, int ly, int side)
    {
        switch (texture)
        {
            case TextureKind.Striped:
                int period = Math.Max(4, side / 6);
                return (lx + ly) % period < period / 2;
            case TextureKind.Dotted:
                int cell = Math.Max(5, side / 5);
                int ox = 2 * (lx % cell) - (cell - 1), oy = 2 * (ly % cell) - (cell - 1); // doubled offsets from the cell centre
                return ox * ox + oy * oy <= cell * cell * 36 / 100; // dots of diameter 0.6 cell
            case TextureKind.Checkered:
                int check = Math.Max(4, side / 5);
                return (lx / check + ly / check) % 2 == 1;
            default:
                return false;
        }
    }

    // Dark colours get a lighter pattern, light ones a darker: the object's colour stays its dominant hue.
    private static (byte, byte, byte) PatternShade(SynthColour c)
    {
        bool dark = c.R * 299 + c.G * 587 + c.B * 114 < 110_000;
        int Mix(byte v) => dark ? v + (255 - v) * 55 / 100 : v * 50 / 100;
        return (Clamp(Mix(c.R)), Clamp(Mix(c.G)), Clamp(Mix(c.B)));
    }

    private static void Set(byte[] px, int w, int x, int y, (byte R, byte G, byte B) c)
    {
        int i = (y * w + x) * 3;
        px[i] = c.R; px[i + 1] = c.G; px[i + 2] = c.B;
    }

    private static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);
}
