using GroundSharp.Data;
using SkiaSharp;

namespace GroundSharp.Explain;

/// <summary>Renders a grounding result: heatmap (jet colours) blended over the image, the point and the box.</summary>
public static class HeatmapOverlay
{
    public static SKBitmap Render(RgbImage image, GroundingResult result, double opacity = 0.5, string? label = null)
    {
        if (result.ImageWidth != image.Width || result.ImageHeight != image.Height)
            throw new ArgumentException("the result was computed for an image of another size");
        int w = image.Width, h = image.Height;
        var heat = result.Heatmap;
        float min = float.MaxValue, max = float.MinValue;
        foreach (var v in heat) { if (v < min) min = v; if (v > max) max = v; }
        float range = max - min > 1e-20f ? max - min : 1f;

        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = image.Pixels;
        var dst = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            var (r, g, b) = Jet((heat[i] - min) / range);
            dst[4 * i] = Blend(px[3 * i], r, opacity);
            dst[4 * i + 1] = Blend(px[3 * i + 1], g, opacity);
            dst[4 * i + 2] = Blend(px[3 * i + 2], b, opacity);
            dst[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(dst, 0, bmp.GetPixels(), dst.Length);

        using var canvas = new SKCanvas(bmp);
        float stroke = Math.Max(2f, Math.Min(w, h) / 150f);
        using var boxPaint = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
        using var boxShadow = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = stroke * 2, IsAntialias = true };
        var rect = new SKRect((float)result.Box.X1, (float)result.Box.Y1, (float)result.Box.X2, (float)result.Box.Y2);
        canvas.DrawRect(rect, boxShadow);
        canvas.DrawRect(rect, boxPaint);
        using var dot = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Fill, IsAntialias = true };
        using var ring = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
        float radius = stroke * 2.5f;
        canvas.DrawCircle(result.Point.X + 0.5f, result.Point.Y + 0.5f, radius, dot);
        canvas.DrawCircle(result.Point.X + 0.5f, result.Point.Y + 0.5f, radius, ring);
        if (!string.IsNullOrEmpty(label))
        {
            using var font = new SKFont(SKTypeface.Default, Math.Max(12f, Math.Min(w, h) / 20f));
            using var text = new SKPaint { Color = SKColors.White, IsAntialias = true };
            using var bg = new SKPaint { Color = new SKColor(0, 0, 0, 160) };
            float tw = font.MeasureText(label);
            canvas.DrawRect(0, 0, tw + 8, font.Size + 8, bg);
            canvas.DrawText(label, 4, font.Size + 2, SKTextAlign.Left, font, text);
        }
        return bmp;
    }

    public static void SavePng(SKBitmap bitmap, string path)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        IO.AtomicFile.Write(path, data.SaveTo, durable: false);
    }

    private static byte Blend(byte a, byte b, double t) => (byte)Math.Clamp(Math.Round(a * (1 - t) + b * t), 0, 255);

    /// <summary>The jet colour map (blue → cyan → yellow → red) at v in [0,1].</summary>
    public static (byte R, byte G, byte B) Jet(double v)
    {
        v = Math.Clamp(v, 0, 1);
        double r = Math.Clamp(1.5 - Math.Abs(4 * v - 3), 0, 1);
        double g = Math.Clamp(1.5 - Math.Abs(4 * v - 2), 0, 1);
        double b = Math.Clamp(1.5 - Math.Abs(4 * v - 1), 0, 1);
        return ((byte)(r * 255), (byte)(g * 255), (byte)(b * 255));
    }
}
