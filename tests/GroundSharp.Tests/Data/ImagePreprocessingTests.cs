using GroundSharp.Data;
using SkiaSharp;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Data;

/// <summary>Resize and normalisation against the fixture's PIL/torchvision outputs.</summary>
public class ImagePreprocessingTests(ITestOutputHelper output)
{
    private static readonly string[] FixturePngs = ["image_0_320x240.png", "image_1_200x300.png", "image_2_512x288.png"];
    private const int Res = 256;

    private static byte[] ExpectedResized(int index)
    {
        var all = File.ReadAllBytes(FixtureData.PathOf("tensors/input_image_resized_u8.u8"));
        Assert.Equal(3 * Res * Res * 3, all.Length);
        return all.AsSpan(index * Res * Res * 3, Res * Res * 3).ToArray();
    }

    [Theory]
    [InlineData(0, 320, 240)]
    [InlineData(1, 200, 300)]
    [InlineData(2, 512, 288)]
    public void Fixture_png_loads_with_its_size(int index, int width, int height)
    {
        var image = ImageLoader.Load(FixtureData.PathOf(FixturePngs[index]));
        Assert.Equal((width, height), (image.Width, image.Height));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Bicubic_resize_matches_pillow_byte_for_byte(int index)
    {
        var image = ImageLoader.Load(FixtureData.PathOf(FixturePngs[index]));
        var resized = PilResize.Bicubic(image, Res, Res);
        var expected = ExpectedResized(index);

        int differing = 0, maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - resized.Pixels[i]);
            if (d > 0) differing++;
            maxDiff = Math.Max(maxDiff, d);
        }
        output.WriteLine($"{FixturePngs[index]}: {differing} of {expected.Length} values differ, max |diff| {maxDiff}");
        Assert.Equal(0, maxDiff);
    }

    [Theory]
    [InlineData("cli/image_0_256.png", 0)]
    [InlineData("cli/image_1_256.png", 1)]
    [InlineData("cli/image_2_256.png", 2)]
    public void Resize_of_a_256_image_to_256_is_the_identity(string png, int index)
    {
        var image = ImageLoader.Load(FixtureData.PathOf(png));
        Assert.Equal(ExpectedResized(index), image.Pixels);
        Assert.Equal(image.Pixels, PilResize.Bicubic(image, Res, Res).Pixels);
    }

    [Fact]
    public void Resize_changing_one_axis_only_filters_that_axis()
    {
        // A vertical stripe pattern shrunk in height only stays exactly the same per column.
        var pixels = new byte[8 * 6 * 3];
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 8; x++)
                pixels[(y * 8 + x) * 3] = (byte)(x * 30);
        var resized = PilResize.Bicubic(new RgbImage(8, 6, pixels), 8, 3);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 8; x++)
                Assert.Equal((byte)(x * 30), resized[x, y].R);
    }

    [Fact]
    public void ToBatch_matches_fixture_network_input()
    {
        var images = FixturePngs.Select(p => ImageLoader.Load(FixtureData.PathOf(p))).ToList();
        using var scope = NewDisposeScope();
        var batch = ImagePreprocessor.ToBatch(images, Res);
        var expected = FixtureData.Load("input_image.f32");
        Assert.Equal(expected.shape, batch.shape);
        double maxAbs = (batch - expected).abs().max().item<float>();
        output.WriteLine($"max |ToBatch - input_image.f32| = {maxAbs:E3}");
        Assert.True(maxAbs <= 1e-6, $"max abs difference {maxAbs}");
    }

    [Theory]
    [InlineData("cli/image_0_256.png", 0)]
    [InlineData("cli/image_1_256.png", 1)]
    [InlineData("cli/image_2_256.png", 2)]
    public void ToTensor_of_cli_png_matches_fixture_network_input(string png, int index)
    {
        using var scope = NewDisposeScope();
        var input = ImagePreprocessor.ToTensor(ImageLoader.Load(FixtureData.PathOf(png)), Res);
        var expected = FixtureData.Load("input_image.f32")[index];
        Assert.Equal(new long[] { 3, Res, Res }, input.shape);
        double maxAbs = (input - expected).abs().max().item<float>();
        Assert.True(maxAbs <= 1e-6, $"max abs difference {maxAbs}");
    }
}

/// <summary>Why <see cref="PilResize"/> exists: a point-sampled Catmull-Rom resize does not give the authors' pixels.</summary>
public class CatmullRomComparisonTests(ITestOutputHelper output)
{
    [Fact]
    public void Skia_catmull_rom_differs_from_pillow_when_shrinking()
    {
        var image = ImageLoader.Load(FixtureData.PathOf("image_2_512x288.png"));
        using var source = image.ToSKBitmap();
        using var resized = source.Resize(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Opaque),
            new SKSamplingOptions(SKCubicResampler.CatmullRom));
        var catmullRom = RgbImage.FromSKBitmap(resized).Pixels;
        var pillow = File.ReadAllBytes(FixtureData.PathOf("tensors/input_image_resized_u8.u8")).AsSpan(2 * 256 * 256 * 3, 256 * 256 * 3).ToArray();
        int differing = 0, maxDiff = 0;
        for (int i = 0; i < pillow.Length; i++)
        {
            int d = Math.Abs(pillow[i] - catmullRom[i]);
            if (d > 0) differing++;
            maxDiff = Math.Max(maxDiff, d);
        }
        output.WriteLine($"Catmull-Rom vs Pillow on 512x288 -> 256x256: {differing} of {pillow.Length} values differ, max |diff| {maxDiff}");
        Assert.True(differing > pillow.Length / 10);
    }
}
