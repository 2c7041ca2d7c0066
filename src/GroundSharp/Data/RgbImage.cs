using SkiaSharp;

namespace GroundSharp.Data;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B (what PIL's <c>convert('RGB')</c> holds).</summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        if (pixels.LongLength != (long)width * height * 3)
            throw new ArgumentException($"expected {(long)width * height * 3} bytes for {width}x{height} RGB, got {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    /// <summary>Width * Height * 3 bytes, row-major, R,G,B per pixel.</summary>
    public byte[] Pixels { get; }

    /// <summary>The pixel at (x, y) as (R, G, B).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>Copies a Skia bitmap's colour channels (alpha is dropped, un-premultiplied first, as PIL's RGBA→RGB).</summary>
    public static RgbImage FromSKBitmap(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        var info = new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        using var pixmap = bitmap.PeekPixels()
            ?? throw new ArgumentException("the bitmap has no pixels in memory", nameof(bitmap));
        unsafe
        {
            fixed (byte* p = rgba)
            {
                if (!pixmap.ReadPixels(info, (IntPtr)p, info.RowBytes))
                    throw new ArgumentException("the bitmap's pixels could not be read as RGBA", nameof(bitmap));
            }
        }
        return FromRgba(bitmap.Width, bitmap.Height, rgba);
    }

    /// <summary>An opaque RGBA8888 Skia bitmap with these pixels (for drawing overlays and encoding).</summary>
    public SKBitmap ToSKBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[Width * Height * 4];
        for (int i = 0, j = 0; i < Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = Pixels[i];
            rgba[j + 1] = Pixels[i + 1];
            rgba[j + 2] = Pixels[i + 2];
            rgba[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    internal static RgbImage FromRgba(int width, int height, byte[] rgba)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(width, height, rgb);
    }
}
