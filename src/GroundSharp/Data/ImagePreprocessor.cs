using static TorchSharp.torch;

namespace GroundSharp.Data;

/// <summary>
/// ALBEF's test transform: <c>Resize((res, res), BICUBIC)</c> (Pillow), <c>ToTensor()</c>, <c>Normalize(mean, std)</c>.
/// </summary>
public static class ImagePreprocessor
{
    /// <summary>Per-channel mean (R, G, B) that ALBEF normalises with (CLIP's constants).</summary>
    public static readonly float[] Mean = [0.48145466f, 0.4578275f, 0.40821073f];
    /// <summary>Per-channel standard deviation (R, G, B).</summary>
    public static readonly float[] Std = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>float32 (3, res, res) network input on <paramref name="device"/> (CPU when null).</summary>
    public static Tensor ToTensor(RgbImage image, int imageRes, Device? device = null)
    {
        CheckResolution(imageRes);
        var values = new float[3 * imageRes * imageRes];
        WriteNormalised(image, imageRes, values, 0);
        return tensor(values, [3, imageRes, imageRes], dtype: ScalarType.Float32, device: device);
    }

    /// <summary>float32 (B, 3, res, res) network input for several images.</summary>
    public static Tensor ToBatch(IEnumerable<RgbImage> images, int imageRes, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var list = images.ToList();
        if (list.Count == 0) throw new ArgumentException("no images to batch", nameof(images));
        CheckResolution(imageRes);
        int plane = 3 * imageRes * imageRes;
        var values = new float[list.Count * plane];
        for (int b = 0; b < list.Count; b++) WriteNormalised(list[b], imageRes, values, b * plane);
        return tensor(values, [list.Count, 3, imageRes, imageRes], dtype: ScalarType.Float32, device: device);
    }

    private static void CheckResolution(int imageRes)
    {
        if (imageRes <= 0) throw new ArgumentOutOfRangeException(nameof(imageRes), imageRes, "must be positive");
    }

    /// <summary>
    /// Resizes with <see cref="PilResize.Bicubic"/> and writes CHW floats. The arithmetic is float32 in torchvision's
    /// order — <c>v / 255</c>, then <c>(x - mean) / std</c> — so results equal PyTorch's bit for bit.
    /// </summary>
    private static void WriteNormalised(RgbImage image, int imageRes, float[] destination, int offset)
    {
        ArgumentNullException.ThrowIfNull(image);
        var resized = PilResize.Bicubic(image, imageRes, imageRes);
        var pixels = resized.Pixels;
        int plane = imageRes * imageRes;
        for (int c = 0; c < 3; c++)
        {
            float mean = Mean[c], std = Std[c];
            int dst = offset + c * plane;
            for (int i = 0; i < plane; i++)
            {
                float x = pixels[i * 3 + c] / 255f;
                destination[dst + i] = (x - mean) / std;
            }
        }
    }
}
