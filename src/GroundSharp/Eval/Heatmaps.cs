using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Eval;

/// <summary>Turning a GradCAM grid into a point on the original image, as the official evaluation does.</summary>
public static class Heatmaps
{
    /// <summary>
    /// Bicubic upsampling of an (h, w) grid to (height, width), align_corners false, in float32: the official
    /// <c>F.interpolate(pred.view(1,1,h,w), size=(H,W), mode='bicubic').squeeze()</c>. TorchSharp calls the
    /// same libtorch kernel, so values (and therefore argmax ties) match PyTorch's. Returns a new (height, width)
    /// float32 tensor on the grid's device; the caller owns it.
    /// </summary>
    /// <remarks>
    /// A (n, h, w) stack is upsampled in one call to (n, height, width), each map with the same values as alone (the
    /// kernel computes every output pixel on its own; tested), at less cost per map: the interpolation indices and
    /// weights are shared.
    /// </remarks>
    public static Tensor UpsampleBicubic(Tensor grid, int height, int width)
    {
        if (grid.dim() is not (2 or 3))
            throw new GroundSharpException($"a heatmap grid must be 2-D (h, w) or a stack (n, h, w); got shape [{string.Join(", ", grid.shape)}]");
        if (height <= 0 || width <= 0)
            throw new GroundSharpException($"image size must be positive; got {width}x{height} (width x height)");
        using var scope = NewDisposeScope();
        long n = grid.dim() == 3 ? grid.shape[0] : 1;
        var input = grid.to_type(ScalarType.Float32).reshape(1, n, grid.shape[^2], grid.shape[^1]);
        var up = nn.functional.interpolate(input, size: [height, width],
            mode: InterpolationMode.Bicubic, align_corners: false);
        return (grid.dim() == 3 ? up.view(n, height, width) : up.view(height, width)).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="UpsampleBicubic(Tensor, int, int)"/> of a row-major (gridHeight × gridWidth) grid held in an array.</summary>
    public static Tensor UpsampleBicubic(float[] grid, int gridHeight, int gridWidth, int height, int width)
    {
        if (grid.Length != (long)gridHeight * gridWidth)
            throw new GroundSharpException($"a heatmap grid of {grid.Length} values is not {gridHeight}x{gridWidth}");
        using var g = tensor(grid, new long[] { gridHeight, gridWidth });
        return UpsampleBicubic(g, height, width);
    }

    /// <summary>
    /// The first maximum of a 2-D map in row-major order, as (x = column, y = row): the official
    /// <c>(up == up.max()).nonzero()[0]</c>. libtorch's argmax returns the lowest flat index among equal maxima
    /// (tested on ties), which is the same pixel without materialising the comparison mask.
    /// </summary>
    public static (int X, int Y) FirstArgmax(Tensor map)
    {
        if (map.dim() != 2)
            throw new GroundSharpException($"a heatmap must be 2-D (height, width); got shape [{string.Join(", ", map.shape)}]");
        if (map.numel() == 0)
            throw new GroundSharpException("cannot take the maximum of an empty heatmap");
        using var scope = NewDisposeScope();
        var flat = map.reshape(-1);
        long index = flat.argmax().item<long>();
        // A NaN makes the official `up == up.max()` empty (NaN != NaN) and its `[0]` fail; say so clearly. libtorch's
        // argmax ranks NaN above every number, so one look at the chosen value finds any NaN without another pass.
        if (float.IsNaN(flat[index].to_type(ScalarType.Float32).item<float>()))
            throw new GroundSharpException("the heatmap contains NaN; no maximum point is defined");
        long width = map.shape[1];
        return ((int)(index % width), (int)(index / width));
    }

    /// <summary>Upsamples the grid to the image size and returns its first maximum as (x, y).</summary>
    public static (int X, int Y) PredictPoint(Tensor grid, int imageHeight, int imageWidth)
    {
        using var up = UpsampleBicubic(grid, imageHeight, imageWidth);
        return FirstArgmax(up);
    }
}
