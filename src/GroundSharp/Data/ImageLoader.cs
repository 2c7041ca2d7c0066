using System.Runtime.InteropServices;
using SkiaSharp;

namespace GroundSharp.Data;

/// <summary>
/// Decodes image files (PNG, JPEG, BMP, WebP, GIF — whatever Skia's codecs read; first frame of animations) to
/// <see cref="RgbImage"/>, applying the EXIF orientation. Every failure a user can cause is a
/// <see cref="GroundSharpException"/> that names the file.
/// </summary>
public static class ImageLoader
{
    /// <summary>Reads and decodes the image at <paramref name="path"/>.</summary>
    /// <param name="applyExifOrientation">Rotate/flip as the EXIF Orientation tag says (what a viewer shows).
    /// ALBEF's own loader (<c>Image.open(p).convert('RGB')</c>) does not; pass false to reproduce it on rotated JPEGs.</param>
    public static RgbImage Load(string path, ImageLimits? limits = null, bool applyExifOrientation = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ImageLimits.Default;
        if (Directory.Exists(path)) throw new GroundSharpException($"image path is a directory, not a file: {path}");
        if (!File.Exists(path)) throw new GroundSharpException($"image file not found: {path}");
        long size = new FileInfo(path).Length;
        if (size == 0) throw new GroundSharpException($"image file is empty (0 bytes): {path}");
        if (size > limits.MaxFileBytes)
            throw new GroundSharpException($"image file {path} is {size} bytes, more than the limit of {limits.MaxFileBytes}");
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GroundSharpException($"image file {path} could not be read: {e.Message}", e);
        }
        return Load(data, path, limits, applyExifOrientation);
    }

    /// <summary>Decodes an image held in memory (e.g. an upload); <paramref name="sourceName"/> is used in messages.</summary>
    public static RgbImage Load(Stream stream, string sourceName, ImageLimits? limits = null, bool applyExifOrientation = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        limits ??= ImageLimits.Default;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > limits.MaxFileBytes)
                throw new GroundSharpException($"image {sourceName} is larger than the limit of {limits.MaxFileBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        return Load(buffer.ToArray(), sourceName, limits, applyExifOrientation);
    }

    /// <summary>Decodes encoded image bytes; <paramref name="sourceName"/> is used in messages.</summary>
    public static RgbImage Load(byte[] data, string sourceName, ImageLimits? limits = null, bool applyExifOrientation = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        limits ??= ImageLimits.Default;
        if (data.Length == 0) throw new GroundSharpException($"image {sourceName} is empty (0 bytes)");
        if (data.LongLength > limits.MaxFileBytes)
            throw new GroundSharpException($"image {sourceName} is {data.LongLength} bytes, more than the limit of {limits.MaxFileBytes}");

        // The codec takes ownership of the stream it is created from.
        using var codec = SKCodec.Create(new SKMemoryStream(data), out SKCodecResult createResult);
        if (codec is null)
            throw new GroundSharpException($"image {sourceName} is not a readable image (unknown format or corrupt header: {createResult})");

        // Checked from the header alone, before any pixel memory is allocated.
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width <= 0 || height <= 0)
            throw new GroundSharpException($"image {sourceName} has zero size ({width}x{height})");
        long pixels = (long)width * height;
        if (pixels > limits.MaxPixels)
            throw new GroundSharpException(
                $"image {sourceName} is {width}x{height} = {pixels} pixels, more than the limit of {limits.MaxPixels}");

        // Unpremultiplied RGBA and no colour space: the stored values, as PIL reads them (PIL ignores ICC profiles).
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        SKCodecResult result;
        try { result = codec.GetPixels(info, handle.AddrOfPinnedObject()); }
        finally { handle.Free(); }
        if (result != SKCodecResult.Success)
        {
            string why = result == SKCodecResult.IncompleteInput ? "the data is truncated" : $"decoding failed ({result})";
            throw new GroundSharpException($"image {sourceName} is corrupt: {why}");
        }

        var image = RgbImage.FromRgba(width, height, rgba);
        return applyExifOrientation ? ApplyOrientation(image, codec.EncodedOrigin) : image;
    }

    /// <summary>The displayed (EXIF-oriented) size of an image from its header alone, without decoding pixels.</summary>
    public static (int Width, int Height) ReadSize(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"image not found: {path}");
        using var stream = File.OpenRead(path);
        using var codec = SKCodec.Create(stream, out SKCodecResult createResult)
            ?? throw new GroundSharpException($"image {path} is not a readable image (unknown format or corrupt header: {createResult})");
        int w = codec.Info.Width, h = codec.Info.Height;
        bool rotated = codec.EncodedOrigin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        return rotated ? (h, w) : (w, h);
    }

    /// <summary>Turns stored pixels into displayed pixels for each of the 8 EXIF orientations.</summary>
    public static RgbImage ApplyOrientation(RgbImage image, SKEncodedOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(image);
        int w = image.Width, h = image.Height;
        bool swapsAxes = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
            or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        if (origin is SKEncodedOrigin.TopLeft) return image;
        int outW = swapsAxes ? h : w, outH = swapsAxes ? w : h;
        var src = image.Pixels;
        var dst = new byte[src.Length];
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                // (sx, sy): the stored pixel shown at (x, y).
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),             // mirror left-right
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),  // rotate 180
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),           // mirror top-bottom
                    SKEncodedOrigin.LeftTop => (y, x),                      // transpose
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),             // rotate 90 clockwise
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),  // transverse
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),           // rotate 90 counter-clockwise
                    _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, "not an EXIF orientation"),
                };
                int d = (y * outW + x) * 3, s = (sy * w + sx) * 3;
                dst[d] = src[s];
                dst[d + 1] = src[s + 1];
                dst[d + 2] = src[s + 2];
            }
        }
        return new RgbImage(outW, outH, dst);
    }
}
