namespace GroundSharp.Rec;

/// <summary>
/// Size of a YOLOv3 detector. The defaults are Darknet's <c>yolov3.cfg</c> (DarkNet-53 with residual stages of
/// 1, 2, 8, 8, 4 blocks, full width, 80 classes, 416-pixel input, the COCO anchors); tests and the synthetic
/// benchmark shrink <see cref="StageDepths"/> and <see cref="WidthMultiple"/>.
/// </summary>
public sealed record DetectorConfig
{
    /// <summary>The three output scales in Darknet's order (yolo layers 82, 94, 106): strides 32, 16, 8.</summary>
    public static readonly int[] Strides = [32, 16, 8];

    /// <summary>Residual blocks in each of the five DarkNet-53 stages.</summary>
    public int[] StageDepths { get; init; } = [1, 2, 8, 8, 4];

    /// <summary>Channel multiplier: every Darknet channel count c becomes max(1, round(c · WidthMultiple)).</summary>
    public double WidthMultiple { get; init; } = 1.0;

    public int NumClasses { get; init; } = 80;

    /// <summary>Square network input in pixels; decoded boxes are in this frame. A multiple of 32.</summary>
    public int InputSize { get; init; } = 416;

    /// <summary>Nine (width, height) anchors in input pixels, small to large; scale s uses anchors 6-8, 3-5, 0-2 (Darknet's masks).</summary>
    public double[][] Anchors { get; init; } =
    [
        [10, 13], [16, 30], [33, 23],
        [30, 61], [62, 45], [59, 119],
        [116, 90], [156, 198], [373, 326],
    ];

    public const int AnchorsPerCell = 3;

    /// <summary>Values per anchor in the raw output: tx, ty, tw, th, objectness, then one score per class.</summary>
    public int ValuesPerAnchor => 5 + NumClasses;

    public int Channels(int darknetChannels) => Math.Max(1, (int)Math.Round(darknetChannels * WidthMultiple));

    /// <summary>Indices into <see cref="Anchors"/> used by output scale 0 (stride 32), 1 (stride 16) or 2 (stride 8).</summary>
    public static int[] AnchorMask(int scale) => scale switch
    {
        0 => [6, 7, 8],
        1 => [3, 4, 5],
        2 => [0, 1, 2],
        _ => throw new ArgumentOutOfRangeException(nameof(scale), scale, "YOLOv3 has output scales 0, 1, 2"),
    };

    public int GridSize(int scale) => InputSize / Strides[scale];

    /// <summary>Feature channels of output scale s (the 3×3 conv feeding its output conv): 1024, 512, 256 at full width.</summary>
    public int FeatureChannels(int scale) => Channels(1024 >> scale);

    public DetectorConfig Validate(string source = "detector config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Require(StageDepths is { Length: 5 } && StageDepths.All(d => d >= 0), "stage_depths must hold 5 non-negative block counts");
        Require(WidthMultiple > 0 && double.IsFinite(WidthMultiple), $"width_multiple ({WidthMultiple}) must be positive");
        Require(NumClasses >= 1, $"num_classes ({NumClasses}) must be at least 1");
        Require(InputSize >= 32 && InputSize % 32 == 0, $"input_size ({InputSize}) must be a positive multiple of 32");
        Require(Anchors is { Length: 9 } && Anchors.All(a => a is { Length: 2 } && a[0] > 0 && a[1] > 0),
            "anchors must be 9 [width, height] pairs of positive pixel sizes");
        return this;
    }
}
