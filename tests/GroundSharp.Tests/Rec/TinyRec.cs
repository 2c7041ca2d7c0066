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

/// <summary>Darknet .weights files in the real layout, as the public yolov3.weights is written.</summary>
internal static class DarknetFile
{
    /// <summary>Header 0.2.5 with a 64-bit images-seen counter, then each conv's BN beta, gamma, mean, variance (or bias) and weights.</summary>
    public static void Write(YoloV3 model, string path)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(0); writer.Write(2); writer.Write(5); writer.Write(64000L);
        foreach (var layer in DarknetWeights.ConvLayers(model))
        {
            var tensors = layer.Norm is { } n ? new[] { n.bias!, n.weight!, n.running_mean!, n.running_var! } : new[] { layer.Conv.bias! };
            foreach (var t in tensors.Append(layer.Conv.weight!))
                foreach (var v in t.detach().flatten().data<float>().ToArray()) writer.Write(v);
        }
    }
}

internal static class TinyRecModel
{
    public static readonly string[] Texts = ["red cube left", "blue ball", "green cone right", "small red ball", "big blue cube", "yellow cone top"];

    public static RecConfig Config(bool useCma = true) => new()
    {
        Detector = TinyRec.Detector(),
        Language = new LanguageConfig { WordDim = 8, Hidden = 16, Heads = 2, MaxLength = 6 },
        GridScale = 1,
        FusedDim = 16,
        UseCma = useCma,
        CmaHeads = 2,
        CmaFfnHidden = 32,
        EmbedDim = 8,
        TopK = 4,
        Loss = new RecLossConfig { Temperature = 0.1, Margin = 0.05 },
    };

    public static RecModel Create(bool useCma = true, long seed = 11) =>
        new(Config(useCma), RecVocabulary.Build(Texts), seed: seed);
}
