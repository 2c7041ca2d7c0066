using GroundSharp.Data;
using GroundSharp.Eval;
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
        float stroke = Stroke(w, h);
        DrawBox(canvas, result.Box, SKColors.White, stroke);
        DrawPoint(canvas, result.Point, stroke);
        DrawLabel(canvas, label, w, h);
        return bmp;
    }

    /// <summary>
    /// A box answer (REC): the image with the best <paramref name="shownCandidates"/> other candidates in thin yellow
    /// outlines with their scores, the chosen box in white and its point.
    /// </summary>
    public static SKBitmap RenderBoxes(RgbImage image, Box chosen, (int X, int Y) point, IReadOnlyList<(Box Box, double Score)> candidates,
        string? label = null, int shownCandidates = 4)
    {
        int w = image.Width, h = image.Height;
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = image.Pixels;
        var dst = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            dst[4 * i] = px[3 * i];
            dst[4 * i + 1] = px[3 * i + 1];
            dst[4 * i + 2] = px[3 * i + 2];
            dst[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(dst, 0, bmp.GetPixels(), dst.Length);
        using var canvas = new SKCanvas(bmp);
        float stroke = Stroke(w, h);
        using var font = new SKFont(SKTypeface.Default, Math.Max(10f, Math.Min(w, h) / 32f));
        using var scoreText = new SKPaint { Color = SKColors.Yellow, IsAntialias = true };
        using var scoreBg = new SKPaint { Color = new SKColor(0, 0, 0, 160) };
        foreach (var (box, score) in candidates.Where(c => c.Box != chosen).Take(shownCandidates))
        {
            DrawBox(canvas, box, SKColors.Yellow, stroke / 2);
            var s = score.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
            float x = (float)box.X1 + 2, y = (float)box.Y2 - 3;
            canvas.DrawRect(x - 1, y - font.Size, font.MeasureText(s) + 3, font.Size + 3, scoreBg);
            canvas.DrawText(s, x, y, SKTextAlign.Left, font, scoreText);
        }
        DrawBox(canvas, chosen, SKColors.White, stroke);
        DrawPoint(canvas, point, stroke);
        DrawLabel(canvas, label, w, h);
        return bmp;
    }

    private static float Stroke(int w, int h) => Math.Max(2f, Math.Min(w, h) / 150f);

    private static void DrawBox(SKCanvas canvas, Box box, SKColor colour, float stroke)
    {
        using var paint = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
        using var shadow = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = stroke * 2, IsAntialias = true };
        var rect = new SKRect((float)box.X1, (float)box.Y1, (float)box.X2, (float)box.Y2);
        canvas.DrawRect(rect, shadow);
        canvas.DrawRect(rect, paint);
    }

    private static void DrawPoint(SKCanvas canvas, (int X, int Y) point, float stroke)
    {
        using var dot = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Fill, IsAntialias = true };
        using var ring = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
        float radius = stroke * 2.5f;
        canvas.DrawCircle(point.X + 0.5f, point.Y + 0.5f, radius, dot);
        canvas.DrawCircle(point.X + 0.5f, point.Y + 0.5f, radius, ring);
    }

    private static void DrawLabel(SKCanvas canvas, string? label, int w, int h)
    {
        if (string.IsNullOrEmpty(label)) return;
        using var font = new SKFont(SKTypeface.Default, Math.Max(12f, Math.Min(w, h) / 20f));
        using var text = new SKPaint { Color = SKColors.White, IsAntialias = true };
        using var bg = new SKPaint { Color = new SKColor(0, 0, 0, 160) };
        float tw = font.MeasureText(label);
        canvas.DrawRect(0, 0, tw + 8, font.Size + 8, bg);
        canvas.DrawText(label, 4, font.Size + 2, SKTextAlign.Left, font, text);
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
