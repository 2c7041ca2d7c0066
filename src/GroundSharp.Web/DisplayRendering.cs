using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Explain;
using GroundSharp.Rec;
using SkiaSharp;

namespace GroundSharp.Web;

/// <summary>
/// The pictures a response carries, at display size (long side capped) so that a large upload does not make
/// large responses: the heatmap as a greyscale PNG (the page colours and blends it) and a finished overlay.
/// </summary>
public sealed class DisplayRendering
{
    private readonly RgbImage _display;

    public DisplayRendering(RgbImage original, int maxSide)
    {
        Original = original;
        double scale = Math.Min(1.0, (double)maxSide / Math.Max(original.Width, original.Height));
        int w = Math.Max(1, (int)Math.Round(original.Width * scale));
        int h = Math.Max(1, (int)Math.Round(original.Height * scale));
        _display = w == original.Width && h == original.Height ? original : Resize(original, w, h);
    }

    public RgbImage Original { get; }
    public int Width => _display.Width;
    public int Height => _display.Height;

    /// <summary>The heatmap sampled at display size, min→0 and max→255, as a greyscale PNG.</summary>
    public byte[] HeatmapPng(GroundingResult result)
    {
        var heat = SampleHeatmap(result);
        float min = heat.Min(), max = heat.Max();
        float range = max - min > 1e-20f ? max - min : 1f;
        using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Gray8, SKAlphaType.Opaque));
        var grey = new byte[Width * Height];
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)Math.Clamp(Math.Round((heat[i] - min) / range * 255), 0, 255);
        System.Runtime.InteropServices.Marshal.Copy(grey, 0, bitmap.GetPixels(), grey.Length);
        return Encode(bitmap);
    }

    /// <summary><see cref="HeatmapOverlay"/> (jet at 50 %, point, box, label) drawn at display size.</summary>
    public byte[] OverlayPng(GroundingResult result)
    {
        double sx = (double)Width / Original.Width, sy = (double)Height / Original.Height;
        var scaled = result with
        {
            Heatmap = SampleHeatmap(result),
            ImageWidth = Width,
            ImageHeight = Height,
            Point = (Math.Min(Width - 1, (int)(result.Point.X * sx)), Math.Min(Height - 1, (int)(result.Point.Y * sy))),
            Box = new Box(result.Box.X1 * sx, result.Box.Y1 * sy, result.Box.X2 * sx, result.Box.Y2 * sy),
        };
        using var bitmap = HeatmapOverlay.Render(_display, scaled, label: result.Phrase);
        return Encode(bitmap);
    }

    /// <summary>A REC answer drawn at display size: the chosen box and point, the next candidates with their scores.</summary>
    public byte[] BoxOverlayPng(RecGroundingResult result)
    {
        double sx = (double)Width / Original.Width, sy = (double)Height / Original.Height;
        Box Scale(Box b) => new(b.X1 * sx, b.Y1 * sy, b.X2 * sx, b.Y2 * sy);
        var point = (Math.Min(Width - 1, (int)(result.Point.X * sx)), Math.Min(Height - 1, (int)(result.Point.Y * sy)));
        using var bitmap = HeatmapOverlay.RenderBoxes(_display, Scale(result.Box), point,
            result.Candidates.Select(c => (Scale(c.Box), c.Similarity)).ToList(), label: result.Phrase);
        return Encode(bitmap);
    }

    /// <summary>Nearest sample of the full-size heatmap at each display pixel's centre (the map is smooth).</summary>
    private float[] SampleHeatmap(GroundingResult result)
    {
        if (ReferenceEquals(_display, Original)) return result.Heatmap;
        var heat = new float[Width * Height];
        for (int y = 0; y < Height; y++)
        {
            int oy = Math.Min(Original.Height - 1, (int)((y + 0.5) * Original.Height / Height));
            for (int x = 0; x < Width; x++)
            {
                int ox = Math.Min(Original.Width - 1, (int)((x + 0.5) * Original.Width / Width));
                heat[y * Width + x] = result.Heatmap[oy * Original.Width + ox];
            }
        }
        return heat;
    }

    private static RgbImage Resize(RgbImage image, int width, int height)
    {
        using var source = image.ToSKBitmap();
        using var resized = source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque),
                                          new SKSamplingOptions(SKCubicResampler.CatmullRom));
        return RgbImage.FromSKBitmap(resized);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
