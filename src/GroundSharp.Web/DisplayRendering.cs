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
        _display = HeatmapOverlay.ToDisplay(original, maxSide);
    }

    public RgbImage Original { get; }
    public int Width => _display.Width;
    public int Height => _display.Height;

    /// <summary>
    /// A phrase's two pictures from one upsampling of its map to display size: the heatmap as a greyscale PNG (min→0,
    /// max→255; the page colours and blends it) and the finished overlay (<see cref="HeatmapOverlay"/>: jet at 50 %,
    /// point, box, label).
    /// </summary>
    public (byte[] HeatmapPng, byte[] OverlayPng) Pictures(GroundingResult result)
    {
        var heat = result.Heatmap(Width, Height);
        float min = heat.Min(), max = heat.Max();
        float range = max - min > 1e-20f ? max - min : 1f;
        byte[] heatmapPng;
        using (var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Gray8, SKAlphaType.Opaque)))
        {
            var grey = new byte[Width * Height];
            for (int i = 0; i < grey.Length; i++) grey[i] = (byte)Math.Clamp(Math.Round((heat[i] - min) / range * 255), 0, 255);
            System.Runtime.InteropServices.Marshal.Copy(grey, 0, bitmap.GetPixels(), grey.Length);
            heatmapPng = Encode(bitmap);
        }
        using var overlay = HeatmapOverlay.RenderOnDisplay(_display, result, label: result.Phrase, displayHeatmap: heat);
        return (heatmapPng, Encode(overlay));
    }

    /// <summary>A REC answer drawn at display size: the chosen box and point, the next candidates with their scores.</summary>
    public byte[] BoxOverlayPng(RecGroundingResult result)
    {
        using var bitmap = HeatmapOverlay.RenderBoxesOnDisplay(_display, Original.Width, Original.Height, result.Box, result.Point,
            result.Candidates.Select(c => (c.Box, c.Similarity)).ToList(), label: result.Phrase);
        return Encode(bitmap);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var data = HeatmapOverlay.EncodePng(bitmap);
        return data.ToArray();
    }
}
