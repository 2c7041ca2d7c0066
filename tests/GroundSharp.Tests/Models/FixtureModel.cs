using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>The albef-tiny-A model loaded from its checkpoint with its config.</summary>
public static class FixtureModel
{
    public static AlbefConfig Config => AlbefConfig.Load(FixtureData.PathOf("cli/groundsharp-config.json"));

    public static Dictionary<string, Tensor> StateDict()
    {
        // DEV: temporary raw dump until the .pth reader lands
        var meta = System.Text.Json.JsonDocument.Parse(File.ReadAllText("/tmp/sd/sd.json")).RootElement;
        var bytes = File.ReadAllBytes("/tmp/sd/sd.bin");
        var d = new Dictionary<string, Tensor>();
        foreach (var p in meta.EnumerateObject())
        {
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            int off = p.Value.GetProperty("offset").GetInt32(), n = p.Value.GetProperty("n").GetInt32();
            var seg = bytes.AsSpan(off, n);
            d[p.Name] = p.Value.GetProperty("dtype").GetString() == "FloatStorage"
                ? tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(seg).ToArray(), shape)
                : tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(seg).ToArray(), shape);
        }
        return d;
    }

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
