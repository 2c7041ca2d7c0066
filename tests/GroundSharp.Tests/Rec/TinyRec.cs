using GroundSharp.Rec;

namespace GroundSharp.Tests.Rec;

/// <summary>Small configurations that keep the REC tests fast on two CPU cores.</summary>
internal static class TinyRec
{
    /// <summary>One block per stage, 1/16 width (stem 2 channels, stride-32 features 64), 64-pixel input.</summary>
    public static DetectorConfig Detector(int classes = 2) => new()
    {
        StageDepths = [1, 1, 1, 1, 1],
        WidthMultiple = 1.0 / 16,
        NumClasses = classes,
        InputSize = 64,
        Anchors =
        [
            [4, 5], [6, 10], [10, 8],
            [10, 20], [20, 14], [18, 36],
            [36, 28], [48, 56], [60, 60],
        ],
    };
}
