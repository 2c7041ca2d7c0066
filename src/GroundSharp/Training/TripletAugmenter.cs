using GroundSharp.Data;
using GroundSharp.Eval;

namespace GroundSharp.Training;

/// <summary>Augmentation settings for training triplets (docs/training.md).</summary>
public sealed record AugmentationOptions
{
    /// <summary>Probability of a horizontal flip (image, box, mask and left/right words together).</summary>
    public double FlipProbability { get; init; } = 0.5;
    /// <summary>Swap "left"/"right" words on a flip. The authors' code flips without swapping, which makes spatial phrases false.</summary>
    public bool SwapLeftRightWords { get; init; } = true;
    /// <summary>Brightness factor drawn from [1 - b, 1 + b].</summary>
    public double Brightness { get; init; } = 0.1;
    /// <summary>Contrast factor drawn from [1 - c, 1 + c].</summary>
    public double Contrast { get; init; } = 0.1;
    /// <summary>Saturation factor drawn from [1 - s, 1 + s].</summary>
    public double Saturation { get; init; } = 0.1;
    /// <summary>Probability of converting the image to grayscale (kept as 3 equal channels).</summary>
    public double GrayscaleProbability { get; init; } = 0.05;

    /// <summary>No randomness: resize and normalise only.</summary>
    public static AugmentationOptions None => new() { FlipProbability = 0, Brightness = 0, Contrast = 0, Saturation = 0, GrayscaleProbability = 0 };

    public AugmentationOptions Validate(string source = "augmentation")
    {
        void Probability(double p, string name)
        {
            if (!(p >= 0 && p <= 1)) throw new GroundSharpException($"{source}: {name} ({p}) must be in [0, 1]");
        }
        void Strength(double s, string name)
        {
            if (!(s >= 0 && s < 1)) throw new GroundSharpException($"{source}: {name} ({s}) must be in [0, 1)");
        }
        Probability(FlipProbability, "flip_probability");
        Probability(GrayscaleProbability, "grayscale_probability");
        Strength(Brightness, "brightness");
        Strength(Contrast, "contrast");
        Strength(Saturation, "saturation");
        return this;
    }
}

/// <summary>
/// One augmented training triplet: the normalised image (3, res, res) as CHW floats, the region mask
/// (res, res) with 1 inside the box (all zero without a box), the (possibly left/right-swapped) text, and the
/// sample it came from (image-level tags, which image).
/// </summary>
public sealed record AugmentedSample(float[] Image, float[] Mask, string Text, bool HasBox, Box? Box, bool Flipped, int Resolution, GroundingSample? Origin = null);

/// <summary>
/// Augmentation that keeps (image, mask, text) consistent: resize to image_res (Pillow bicubic, as at
/// inference), horizontal flip of image, box and mask with left/right words swapped, small colour jitter
/// (brightness, contrast, saturation, in that fixed order, as torchvision's functional ops) and random
/// grayscale. Every call draws the same number of values from the <see cref="Random"/>, so a sample's
/// augmentation depends only on the generator's seed.
/// </summary>
public sealed class TripletAugmenter
{
    private readonly AugmentationOptions _options;

    public TripletAugmenter(int imageRes, AugmentationOptions? options = null)
    {
        if (imageRes <= 0) throw new ArgumentOutOfRangeException(nameof(imageRes), imageRes, "must be positive");
        ImageRes = imageRes;
        _options = (options ?? new AugmentationOptions()).Validate();
    }

    public int ImageRes { get; }

    public AugmentedSample Augment(RgbImage image, GroundingSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(random);
        int res = ImageRes;
        // Draw everything up front, in a fixed order, whether or not it is used.
        bool flip = random.NextDouble() < _options.FlipProbability;
        double brightness = 1 + (random.NextDouble() * 2 - 1) * _options.Brightness;
        double contrast = 1 + (random.NextDouble() * 2 - 1) * _options.Contrast;
        double saturation = 1 + (random.NextDouble() * 2 - 1) * _options.Saturation;
        bool grayscale = random.NextDouble() < _options.GrayscaleProbability;

        var resized = PilResize.Bicubic(image, res, res);
        var rgb = ToUnitFloats(resized.Pixels);
        AdjustColours(rgb, brightness, contrast, saturation, grayscale);

        Box? box = sample.Box is { } b ? ScaleBox(b, image.Width, image.Height, res) : null;
        var mask = new float[res * res];
        if (box is { } scaled) FillMask(mask, scaled, res);

        string text = sample.Text;
        if (flip)
        {
            FlipRows(rgb, res, channels: 3);
            FlipRows(mask, res, channels: 1);
            if (box is { } s) box = new Box(res - s.X2, s.Y1, res - s.X1, s.Y2);
            if (_options.SwapLeftRightWords) text = LeftRightWords.Swap(text);
        }
        return new AugmentedSample(Normalise(rgb, res), mask, text, box is not null, box, flip, res, sample);
    }

    /// <summary>The box in resized-image pixels, clipped to the image.</summary>
    public static Box ScaleBox(Box box, int width, int height, int res)
    {
        double sx = (double)res / width, sy = (double)res / height;
        return new Box(box.X1 * sx, box.Y1 * sy, box.X2 * sx, box.Y2 * sy).ClipTo(res, res);
    }

    /// <summary><c>mask[y1:y2, x1:x2] = 1</c> with the scaled corners rounded to the nearest pixel edge (at least one pixel).</summary>
    public static void FillMask(float[] mask, Box box, int res)
    {
        int x1 = Math.Clamp((int)Math.Round(box.X1, MidpointRounding.AwayFromZero), 0, res - 1);
        int y1 = Math.Clamp((int)Math.Round(box.Y1, MidpointRounding.AwayFromZero), 0, res - 1);
        int x2 = Math.Clamp((int)Math.Round(box.X2, MidpointRounding.AwayFromZero), x1 + 1, res);
        int y2 = Math.Clamp((int)Math.Round(box.Y2, MidpointRounding.AwayFromZero), y1 + 1, res);
        for (int y = y1; y < y2; y++)
            Array.Fill(mask, 1f, y * res + x1, x2 - x1);
    }

    private static float[] ToUnitFloats(byte[] pixels)
    {
        var values = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) values[i] = pixels[i] / 255f;
        return values;
    }

    /// <summary>Mirrors each row of an interleaved (res, res, channels) array in place.</summary>
    private static void FlipRows(float[] values, int res, int channels)
    {
        for (int y = 0; y < res; y++)
        {
            int row = y * res * channels;
            for (int x = 0; x < res / 2; x++)
            {
                int a = row + x * channels, b = row + (res - 1 - x) * channels;
                for (int c = 0; c < channels; c++) (values[a + c], values[b + c]) = (values[b + c], values[a + c]);
            }
        }
    }

    private static float Gray(float r, float g, float b) => 0.299f * r + 0.587f * g + 0.114f * b;

    /// <summary>torchvision's adjust_brightness / adjust_contrast / adjust_saturation / rgb_to_grayscale on [0,1] floats.</summary>
    private static void AdjustColours(float[] rgb, double brightness, double contrast, double saturation, bool grayscale)
    {
        int n = rgb.Length / 3;
        float bf = (float)brightness, cf = (float)contrast, sf = (float)saturation;
        if (bf != 1f)
            for (int i = 0; i < rgb.Length; i++) rgb[i] = Math.Clamp(rgb[i] * bf, 0f, 1f);
        if (cf != 1f)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Gray(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
            float mean = (float)(sum / n);
            for (int i = 0; i < rgb.Length; i++) rgb[i] = Math.Clamp(cf * rgb[i] + (1 - cf) * mean, 0f, 1f);
        }
        if (sf != 1f || grayscale)
        {
            for (int i = 0; i < n; i++)
            {
                float g = Gray(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
                for (int c = 0; c < 3; c++)
                {
                    float v = Math.Clamp(sf * rgb[3 * i + c] + (1 - sf) * g, 0f, 1f);
                    rgb[3 * i + c] = v;
                }
                if (grayscale)
                {
                    float gg = Gray(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
                    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gg;
                }
            }
        }
    }

    /// <summary>Interleaved HWC [0,1] → CHW normalised with ALBEF's mean/std.</summary>
    private static float[] Normalise(float[] rgb, int res)
    {
        int plane = res * res;
        var chw = new float[3 * plane];
        for (int c = 0; c < 3; c++)
        {
            float mean = ImagePreprocessor.Mean[c], std = ImagePreprocessor.Std[c];
            for (int i = 0; i < plane; i++) chw[c * plane + i] = (rgb[i * 3 + c] - mean) / std;
        }
        return chw;
    }
}
