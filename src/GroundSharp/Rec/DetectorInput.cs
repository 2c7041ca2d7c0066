using GroundSharp.Data;
using GroundSharp.Eval;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// Images as the detector takes them: stretched (no letterbox) to the square input size with Pillow's bicubic
/// resize, values in [0, 1] as Darknet feeds them. Boxes map between original and input pixels by scaling each
/// axis on its own, the exact inverse of the stretch.
/// </summary>
public static class DetectorInput
{
    /// <summary>(N, 3, S, S) float32 for the images at <paramref name="paths"/> (decoded in parallel) and their original sizes.</summary>
    public static (Tensor Images, (int Width, int Height)[] Sizes) Load(IReadOnlyList<string> paths, int inputSize)
    {
        if (inputSize < 1) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "must be positive");
        int plane = 3 * inputSize * inputSize;
        var values = new float[(long)paths.Count * plane];
        var sizes = new (int, int)[paths.Count];
        Parallel.For(0, paths.Count, i =>
        {
            var image = ImageLoader.Load(paths[i]);
            sizes[i] = (image.Width, image.Height);
            Write(image, inputSize, values.AsSpan(i * plane, plane));
        });
        return (tensor(values, [paths.Count, 3, inputSize, inputSize]), sizes);
    }

    /// <summary>Writes one image as CHW floats in [0, 1] at the input size.</summary>
    public static void Write(RgbImage image, int inputSize, Span<float> destination)
    {
        var pixels = (image.Width == inputSize && image.Height == inputSize ? image : PilResize.Bicubic(image, inputSize, inputSize)).Pixels;
        int plane = inputSize * inputSize;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
                destination[c * plane + i] = pixels[i * 3 + c] / 255f;
    }

    /// <summary>A box in original image pixels → input pixels.</summary>
    public static Box ToInput(Box box, int imageWidth, int imageHeight, int inputSize)
    {
        double sx = (double)inputSize / imageWidth, sy = (double)inputSize / imageHeight;
        return new Box(box.X1 * sx, box.Y1 * sy, box.X2 * sx, box.Y2 * sy);
    }

    /// <summary>A box in input pixels → original image pixels (the inverse of <see cref="ToInput"/>).</summary>
    public static Box ToImage(Box box, int imageWidth, int imageHeight, int inputSize)
    {
        double sx = (double)imageWidth / inputSize, sy = (double)imageHeight / inputSize;
        return new Box(box.X1 * sx, box.Y1 * sy, box.X2 * sx, box.Y2 * sy);
    }
}
