using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>The albef-tiny-A model loaded from its checkpoint with its config.</summary>
public static class FixtureModel
{
    public static AlbefConfig Config => AlbefConfig.Load(FixtureData.PathOf("cli/groundsharp-config.json"));

    public static Dictionary<string, Tensor> StateDict() =>
        GroundSharp.IO.TorchCheckpointReader.LoadStateDict(FixtureData.PathOf("checkpoint.pth"));

    public static AlbefModel Load(ScalarType dtype = ScalarType.Float32)
    {
        var model = new AlbefModel(Config);
        var sd = StateDict();
        var report = AlbefWeights.Load(model, sd, strict: true, "checkpoint.pth");
        foreach (var t in sd.Values) t.Dispose();
        model.eval();
        if (dtype != ScalarType.Float32) model.to(dtype);
        return model;
    }
}
