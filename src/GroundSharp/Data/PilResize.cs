namespace GroundSharp.Data;

/// <summary>
/// Resizing that reproduces Pillow's <c>Image.resize(size, Image.BICUBIC)</c> on 8-bit RGB byte for byte
/// (Pillow's ImagingResample with no box and no reducing_gap). This is a separable convolution, not a point
/// sample: the cubic kernel (a = -0.5) is stretched by the downscale factor (antialiasing), each output
/// pixel's weights are normalised to sum 1 and rounded to fixed point, the horizontal pass runs first, and
/// each pass rounds and clamps to a byte. A Catmull-Rom sampler (Skia, torch interpolate) gives different
/// pixels when shrinking, and the authors' models were trained and evaluated on Pillow's.
/// </summary>
public static class PilResize
{
    // Pillow: PRECISION_BITS = 32 - 8 - 2, leaving room for 8-bit values times weights plus headroom.
    private const int PrecisionBits = 32 - 8 - 2;
    private const double BicubicSupport = 2.0;

    /// <summary>Pillow's bicubic kernel with a = -0.5.</summary>
    private static double BicubicKernel(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>PIL <c>image.resize((width, height), Image.BICUBIC)</c>.</summary>
    public static RgbImage Bicubic(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"target size {width}x{height} must be positive");
        // Pillow returns a copy when the size is unchanged, and skips a pass whose axis keeps its size.
        bool needHorizontal = width != image.Width;
        bool needVertical = height != image.Height;
        if (!needHorizontal && !needVertical) return new RgbImage(width, height, (byte[])image.Pixels.Clone());

        var current = image;
        if (needHorizontal)
        {
            var (bounds, weights, kernelSize) = Coefficients(image.Width, width);
            current = ResampleHorizontal(current, width, bounds, weights, kernelSize);
        }
        if (needVertical)
        {
            var (bounds, weights, kernelSize) = Coefficients(image.Height, height);
            current = ResampleVertical(current, height, bounds, weights, kernelSize);
        }
        return current;
    }

    /// <summary>
    /// Per output index: the first input index and count used, and fixed-point weights (kernelSize per output).
    /// Mirrors Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box (0, inSize).
    /// </summary>
    private static (int[] Bounds, int[] Weights, int KernelSize) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = BicubicSupport * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;

        var bounds = new int[outSize * 2];
        var weights = new int[outSize * kernelSize];
        var k = new double[kernelSize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double invFilterScale = 1.0 / filterScale;
            // C casts truncate toward zero; the window is then clamped to the image.
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;

            double sum = 0.0;
            for (int x = 0; x < xmax; x++)
            {
                double w = BicubicKernel((x + xmin - center + 0.5) * invFilterScale);
                k[x] = w;
                sum += w;
            }
            for (int x = 0; x < xmax; x++)
            {
                double normalised = sum != 0.0 ? k[x] / sum : k[x];
                double scaled = normalised * (1 << PrecisionBits);
                weights[xx * kernelSize + x] = scaled < 0 ? (int)(-0.5 + scaled) : (int)(0.5 + scaled);
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return (bounds, weights, kernelSize);
    }

    /// <summary>Fixed-point sum back to a byte: Pillow's clip8 (the sum already holds the +0.5 rounding term).</summary>
    private static byte Clip8(int value)
    {
        if (value >= (1 << PrecisionBits << 8)) return 255;
        if (value <= 0) return 0;
        return (byte)(value >> PrecisionBits);
    }

    private static RgbImage ResampleHorizontal(RgbImage src, int outWidth, int[] bounds, int[] weights, int kernelSize)
    {
        int height = src.Height, inStride = src.Width * 3, outStride = outWidth * 3;
        var input = src.Pixels;
        var output = new byte[outStride * height];
        const int half = 1 << (PrecisionBits - 1);
        for (int y = 0; y < height; y++)
        {
            int rowIn = y * inStride, rowOut = y * outStride;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int xmin = bounds[xx * 2], count = bounds[xx * 2 + 1], kOffset = xx * kernelSize;
                int r = half, g = half, b = half;
                int p = rowIn + xmin * 3;
                for (int x = 0; x < count; x++, p += 3)
                {
                    int w = weights[kOffset + x];
                    r += input[p] * w;
                    g += input[p + 1] * w;
                    b += input[p + 2] * w;
                }
                int o = rowOut + xx * 3;
                output[o] = Clip8(r);
                output[o + 1] = Clip8(g);
                output[o + 2] = Clip8(b);
            }
        }
        return new RgbImage(outWidth, height, output);
    }

    private static RgbImage ResampleVertical(RgbImage src, int outHeight, int[] bounds, int[] weights, int kernelSize)
    {
        int width = src.Width, stride = width * 3;
        var input = src.Pixels;
        var output = new byte[stride * outHeight];
        const int half = 1 << (PrecisionBits - 1);
        for (int yy = 0; yy < outHeight; yy++)
        {
            int ymin = bounds[yy * 2], count = bounds[yy * 2 + 1], kOffset = yy * kernelSize;
            int rowOut = yy * stride;
            for (int i = 0; i < stride; i++)
            {
                int sum = half;
                int p = ymin * stride + i;
                for (int y = 0; y < count; y++, p += stride)
                    sum += input[p] * weights[kOffset + y];
                output[rowOut + i] = Clip8(sum);
            }
        }
        return new RgbImage(width, outHeight, output);
    }
}
