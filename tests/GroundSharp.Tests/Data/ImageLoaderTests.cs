using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using GroundSharp.Data;
using SkiaSharp;
using Xunit;

namespace GroundSharp.Tests.Data;

public class ImageLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("groundsharp-image-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static readonly SKColor Red = new(255, 0, 0), Green = new(0, 255, 0), Blue = new(0, 0, 255), White = new(255, 255, 255);

    /// <summary>A 32x16 picture whose quadrants are red (top-left), green (top-right), blue (bottom-left), white.</summary>
    private static SKBitmap Quadrants()
    {
        var bitmap = new SKBitmap(new SKImageInfo(32, 16, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        void Fill(int x, int y, SKColor c) { using var p = new SKPaint { Color = c }; canvas.DrawRect(x, y, 16, 8, p); }
        Fill(0, 0, Red); Fill(16, 0, Green); Fill(0, 8, Blue); Fill(16, 8, White);
        return bitmap;
    }

    private static byte[] EncodeJpeg(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 100);
        return data.ToArray();
    }

    /// <summary>Inserts, right after the JPEG's SOI marker, an APP1 Exif segment holding only the Orientation tag.</summary>
    private static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        var tiff = new byte[8 + 2 + 12 + 4];
        "MM"u8.CopyTo(tiff);                                          // big-endian TIFF
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(2), 42);
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(4), 8);     // first IFD right after the header
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(8), 1);     // one entry
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(10), 0x0112); // Orientation
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(12), 3);    // SHORT
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(14), 1);    // count
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(18), orientation);
        // next-IFD offset (last 4 bytes) stays 0
        var payload = Encoding.ASCII.GetBytes("Exif\0\0").Concat(tiff).ToArray();
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF; segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment, 4);
        return jpeg[..2].Concat(segment).Concat(jpeg[2..]).ToArray();
    }

    private static void AssertNear(SKColor expected, (byte R, byte G, byte B) actual)
    {
        const int tolerance = 40; // JPEG compression blurs the colours a little
        Assert.True(Math.Abs(expected.Red - actual.R) <= tolerance && Math.Abs(expected.Green - actual.G) <= tolerance
            && Math.Abs(expected.Blue - actual.B) <= tolerance, $"expected {expected}, got {actual}");
    }

    public static TheoryData<ushort, string> Orientations => new()
    {
        // Displayed quadrant colours, in order top-left, top-right, bottom-left, bottom-right.
        { 1, "RGBW" }, // as stored
        { 2, "GRWB" }, // mirrored left-right
        { 3, "WBGR" }, // rotated 180
        { 4, "BWRG" }, // mirrored top-bottom
        { 5, "RBGW" }, // transposed
        { 6, "BRWG" }, // rotated 90 clockwise
        { 7, "WGBR" }, // transversed
        { 8, "GWRB" }, // rotated 90 counter-clockwise
    };

    [Theory]
    [MemberData(nameof(Orientations))]
    public void Exif_orientation_is_applied(ushort orientation, string quadrants)
    {
        using var bitmap = Quadrants();
        var path = WriteFile($"o{orientation}.jpg", WithExifOrientation(EncodeJpeg(bitmap), orientation));
        var image = ImageLoader.Load(path);

        bool swapped = orientation >= 5;
        Assert.Equal(swapped ? (16, 32) : (32, 16), (image.Width, image.Height));
        SKColor Colour(char c) => c switch { 'R' => Red, 'G' => Green, 'B' => Blue, _ => White };
        int qx = image.Width / 4, qy = image.Height / 4;
        AssertNear(Colour(quadrants[0]), image[qx, qy]);
        AssertNear(Colour(quadrants[1]), image[3 * qx, qy]);
        AssertNear(Colour(quadrants[2]), image[qx, 3 * qy]);
        AssertNear(Colour(quadrants[3]), image[3 * qx, 3 * qy]);
    }

    [Fact]
    public void Exif_orientation_can_be_ignored_like_albef()
    {
        using var bitmap = Quadrants();
        var bytes = WithExifOrientation(EncodeJpeg(bitmap), 6);
        var image = ImageLoader.Load(bytes, "rotated.jpg", applyExifOrientation: false);
        Assert.Equal((32, 16), (image.Width, image.Height));
    }

    [Fact]
    public void Png_decodes_exactly_and_round_trips_through_skia()
    {
        using var bitmap = Quadrants();
        using var png = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        var image = ImageLoader.Load(new MemoryStream(png.ToArray()), "upload.png");
        Assert.Equal((255, 0, 0), ((int)image[0, 0].R, (int)image[0, 0].G, (int)image[0, 0].B));
        Assert.Equal((255, 255, 255), ((int)image[31, 15].R, (int)image[31, 15].G, (int)image[31, 15].B));
        Assert.Equal(image.Pixels, RgbImage.FromSKBitmap(bitmap).Pixels);
        using var back = image.ToSKBitmap();
        Assert.Equal(image.Pixels, RgbImage.FromSKBitmap(back).Pixels);
    }

    [Fact]
    public void Missing_file_is_named()
    {
        var path = Path.Combine(_dir, "absent.png");
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Empty_file_is_named()
    {
        var path = WriteFile("empty.png", []);
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Garbage_is_not_an_image()
    {
        var path = WriteFile("notes.jpg", Encoding.UTF8.GetBytes("this is not an image at all"));
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Truncated_png_is_corrupt()
    {
        var png = File.ReadAllBytes(FixtureData.PathOf("image_0_320x240.png"));
        var path = WriteFile("cut.png", png[..(png.Length / 2)]);
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void Oversized_header_is_rejected_before_decoding()
    {
        var path = WriteFile("bomb.png", TestImages.PngClaiming(100_000, 100_000));
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("100000x100000", e.Message);
    }

    [Fact]
    public void Pixel_limit_is_configurable()
    {
        var path = FixtureData.PathOf("image_0_320x240.png");
        var e = Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path, new ImageLimits { MaxPixels = 320 * 240 - 1 }));
        Assert.Contains("320x240", e.Message);
        Assert.Equal(320, ImageLoader.Load(path, new ImageLimits { MaxPixels = 320 * 240 }).Width);
    }

    [Fact]
    public void Zero_width_header_is_rejected()
    {
        var path = WriteFile("zero.png", TestImages.PngClaiming(0, 10));
        Assert.Throws<GroundSharpException>(() => ImageLoader.Load(path));
    }
}
