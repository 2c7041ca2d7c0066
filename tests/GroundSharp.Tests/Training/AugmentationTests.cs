using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Training;
using Xunit;

namespace GroundSharp.Tests.Training;

public class AugmentationTests
{
    /// <summary>64x32 image: left half red, right half blue, a green square at x 8..16, y 8..24.</summary>
    private static RgbImage TwoHalves()
    {
        int w = 64, h = 32;
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = (y * w + x) * 3;
                bool square = x >= 8 && x < 16 && y >= 8 && y < 24;
                px[i] = (byte)(square ? 0 : x < w / 2 ? 220 : 10);
                px[i + 1] = (byte)(square ? 230 : 20);
                px[i + 2] = (byte)(square ? 0 : x < w / 2 ? 10 : 220);
            }
        return new RgbImage(w, h, px);
    }

    private static readonly GroundingSample CatOnTheLeft = new("cat.png", "the cat on the left", new Box(8, 8, 16, 24));

    [Fact]
    public void Flip_MirrorsImageBoxAndMask_AndSwapsLeftRight()
    {
        var noAug = AugmentationOptions.None;
        var plain = new TripletAugmenter(32, noAug).Augment(TwoHalves(), CatOnTheLeft, new Random(1));
        var flipped = new TripletAugmenter(32, noAug with { FlipProbability = 1 }).Augment(TwoHalves(), CatOnTheLeft, new Random(1));

        Assert.Equal("the cat on the left", plain.Text);
        Assert.Equal("the cat on the right", flipped.Text);
        Assert.True(flipped.Flipped);
        // 64x32 → 32x32: the box x 8..16 becomes 4..8, mirrored 24..28; y 8..24 stays.
        Assert.Equal(new Box(4, 8, 8, 24), plain.Box);
        Assert.Equal(new Box(24, 8, 28, 24), flipped.Box);
        int res = 32;
        for (int y = 0; y < res; y++)
            for (int x = 0; x < res; x++)
            {
                Assert.Equal(plain.Mask[y * res + x], flipped.Mask[y * res + (res - 1 - x)]);
                for (int c = 0; c < 3; c++)
                    Assert.Equal(plain.Image[c * res * res + y * res + x], flipped.Image[c * res * res + y * res + res - 1 - x]);
            }
        Assert.Equal(1f, flipped.Mask[10 * res + 25]);
        Assert.Equal(0f, flipped.Mask[10 * res + 5]);
        Assert.Equal(4 * 16, flipped.Mask.Sum());
    }

    [Fact]
    public void NoFlip_KeepsTextBoxAndMask()
    {
        var a = new TripletAugmenter(32, AugmentationOptions.None with { FlipProbability = 0 }).Augment(TwoHalves(), CatOnTheLeft, new Random(3));
        Assert.False(a.Flipped);
        Assert.Equal("the cat on the left", a.Text);
        Assert.True(a.HasBox);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                Assert.Equal(x >= 4 && x < 8 && y >= 8 && y < 24 ? 1f : 0f, a.Mask[y * 32 + x]);
        // Without jitter the image is exactly the inference preprocessing.
        using var reference = ImagePreprocessor.ToTensor(TwoHalves(), 32);
        Assert.Equal(reference.data<float>().ToArray(), a.Image);
    }

    [Fact]
    public void CaptionOnlySample_HasAllZeroMask()
    {
        var sample = new GroundingSample("x.png", "a red and blue picture", null);
        var a = new TripletAugmenter(16).Augment(TwoHalves(), sample, new Random(5));
        Assert.False(a.HasBox);
        Assert.Null(a.Box);
        Assert.All(a.Mask, v => Assert.Equal(0f, v));
        Assert.Equal(3 * 16 * 16, a.Image.Length);
    }

    [Fact]
    public void SameSeed_SameResult_DifferentSeeds_Differ()
    {
        var aug = new TripletAugmenter(32, new AugmentationOptions { FlipProbability = 0.5, Brightness = 0.3, Contrast = 0.3, Saturation = 0.3, GrayscaleProbability = 0.2 });
        var a = aug.Augment(TwoHalves(), CatOnTheLeft, new Random(42));
        var b = aug.Augment(TwoHalves(), CatOnTheLeft, new Random(42));
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Mask, b.Mask);
        Assert.Equal(a.Text, b.Text);
        var others = Enumerable.Range(0, 8).Select(s => aug.Augment(TwoHalves(), CatOnTheLeft, new Random(100 + s))).ToList();
        Assert.Contains(others, o => !o.Image.SequenceEqual(a.Image));
        Assert.Contains(others, o => o.Flipped);
        Assert.Contains(others, o => !o.Flipped);
    }

    [Theory]
    [InlineData("the cat on the left", "the cat on the right")]
    [InlineData("Left dog", "Right dog")]
    [InlineData("LEFTMOST car", "RIGHTMOST car")]
    [InlineData("the rightmost cup, left-hand side", "the leftmost cup, right-hand side")]
    [InlineData("a bright upright lamp", "a bright upright lamp")]
    [InlineData("leftover cake on the right", "leftover cake on the left")]
    [InlineData("top left corner", "top right corner")]
    public void LeftRightWords_SwapWholeWordsKeepingCase(string input, string expected) =>
        Assert.Equal(expected, LeftRightWords.Swap(input));
}
