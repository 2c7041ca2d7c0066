using GroundSharp.Eval;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Eval;

public class HeatmapsTests
{
    [Fact]
    public void FirstArgmaxTakesTheFirstTieInRowMajorOrder()
    {
        using var map = tensor(new float[]
        {
            0, 1, 0, 0,
            0, 0, 3, 3,
            3, 0, 0, 3,
        }, 3, 4);
        Assert.Equal((2, 1), Heatmaps.FirstArgmax(map)); // row 1 comes before row 2, column 2 before column 3
    }

    [Fact]
    public void FirstArgmaxOnManyTiesInALargeMapMatchesTheOfficialRule()
    {
        // Values on a coarse lattice so the maximum repeats hundreds of times across a map large enough for
        // libtorch's vectorised, chunked reduction.
        var random = new Random(7);
        for (int trial = 0; trial < 10; trial++)
        {
            int height = random.Next(200, 700), width = random.Next(200, 700);
            var values = new float[height * width];
            for (int i = 0; i < values.Length; i++)
                values[i] = random.Next(0, 2000);
            using var map = tensor(values, height, width);
            // The official rule, (up == up.max()).nonzero()[0], with libtorch itself...
            using var firstNonzero = map.eq(map.max()).nonzero()[0];
            var official = ((int)firstNonzero[1].item<long>(), (int)firstNonzero[0].item<long>());
            // ...and as a plain scan.
            int first = Array.IndexOf(values, values.Max());
            Assert.Equal((first % width, first / width), official);
            Assert.Equal(official, Heatmaps.FirstArgmax(map));
        }
    }

    [Fact]
    public void FirstArgmaxRejectsNaNAndWrongShapes()
    {
        using var withNaN = tensor(new[] { 0f, float.NaN, 1f, 0f }, 2, 2);
        Assert.Throws<GroundSharpException>(() => Heatmaps.FirstArgmax(withNaN));
        // A NaN after the largest number, and one inside a map large enough for libtorch's vectorised, threaded argmax.
        using var nanLast = tensor(new[] { 5f, 0f, 1f, float.NaN }, 2, 2);
        Assert.Throws<GroundSharpException>(() => Heatmaps.FirstArgmax(nanLast));
        using var large = rand(1000, 1001);
        large[617, 3] = tensor(float.NaN);
        Assert.Throws<GroundSharpException>(() => Heatmaps.FirstArgmax(large));
        using var flat = zeros(4);
        Assert.Throws<GroundSharpException>(() => Heatmaps.FirstArgmax(flat));
        using var empty = zeros(0, 3);
        Assert.Throws<GroundSharpException>(() => Heatmaps.FirstArgmax(empty));
    }

    [Fact]
    public void UpsamplingToTheSameSizeIsTheIdentity()
    {
        using var grid = rand(16, 16, generator: new Generator(3));
        using var up = Heatmaps.UpsampleBicubic(grid, 16, 16);
        Assert.Equal(0.0, (up - grid).abs().max().item<float>(), 6);
    }

    [Fact]
    public void UpsamplingGivesTheImageSizeInFloat32()
    {
        using var grid = ones(16, 16, dtype: ScalarType.Float64);
        using var up = Heatmaps.UpsampleBicubic(grid, 300, 200);
        Assert.Equal(new long[] { 300, 200 }, up.shape);
        Assert.Equal(ScalarType.Float32, up.dtype);
        Assert.Equal(1.0, up.min().item<float>(), 5); // cubic weights sum to one
        Assert.Equal(1.0, up.max().item<float>(), 5);
    }

    [Fact]
    public void UpsamplingMatchesInterpolateOnA4DTensor()
    {
        using var grid = rand(16, 16, generator: new Generator(11));
        using var up = Heatmaps.UpsampleBicubic(grid, 123, 77);
        using var reference = nn.functional.interpolate(grid.view(1, 1, 16, 16), size: [123, 77],
            mode: InterpolationMode.Bicubic, align_corners: false).squeeze();
        Assert.True(up.eq(reference).all().item<bool>()); // bit for bit
    }

    [Theory]
    [InlineData(288, 512)]
    [InlineData(1001, 997)]
    public void AStackOfGridsUpsamplesToTheSameValuesAsEachAlone(int height, int width)
    {
        using var grids = rand(5, 16, 16);
        using var stacked = Heatmaps.UpsampleBicubic(grids, height, width);
        Assert.Equal(new long[] { 5, height, width }, stacked.shape);
        for (int i = 0; i < 5; i++)
        {
            using var alone = Heatmaps.UpsampleBicubic(grids[i], height, width);
            Assert.True(alone.eq(stacked[i]).all().item<bool>(), $"map {i}");
        }
    }

    [Fact]
    public void UpsamplingRejectsBadInput()
    {
        using var grid4d = zeros(1, 2, 16, 16);
        Assert.Throws<GroundSharpException>(() => Heatmaps.UpsampleBicubic(grid4d, 10, 10));
        using var grid = zeros(16, 16);
        Assert.Throws<GroundSharpException>(() => Heatmaps.UpsampleBicubic(grid, 0, 10));
    }

    [Fact]
    public void PredictPointFindsTheHotCell()
    {
        using var grid = zeros(16, 16);
        grid[4, 12] = tensor(1f); // row 4, column 12 of a 16x16 grid over a 320x160 image
        var (x, y) = Heatmaps.PredictPoint(grid, 160, 320);
        Assert.InRange(x, 12 * 20, 13 * 20 - 1);
        Assert.InRange(y, 4 * 10, 5 * 10 - 1);
    }
}
