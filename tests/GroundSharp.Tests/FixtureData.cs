using System.Text.Json;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests;

/// <summary>Reads the albef-tiny-A reference fixture (outputs of the authors' code) copied under Fixtures/.</summary>
public static class FixtureData
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "albef-tiny-A");
    public static string PathOf(string relative) => Path.Combine(Dir, relative);

    private static readonly Lazy<JsonDocument> ManifestDoc =
        new(() => JsonDocument.Parse(File.ReadAllText(PathOf("manifest.json"))));
    public static JsonElement Manifest => ManifestDoc.Value.RootElement;

    // The fixture's sizes, read from its manifest so that the same tests check any fixture made by the authors' code.
    private static JsonElement Vit => Manifest.GetProperty("vit");
    /// <summary>Images in the fixture's input batch.</summary>
    public static int ImageCount => Manifest.GetProperty("inputs").GetProperty("images").GetArrayLength();
    /// <summary>Image tokens of the ViT: [CLS] plus the patch grid.</summary>
    public static int ImageTokens => Vit.GetProperty("tokens").GetInt32();
    public static int VisionWidth => Vit.GetProperty("embed_dim").GetInt32();
    public static int ImageRes => Vit.GetProperty("img_size").GetInt32();
    /// <summary>The patch grid (height, width).</summary>
    public static (int H, int W) Grid => (Vit.GetProperty("grid")[0].GetInt32(), Vit.GetProperty("grid")[1].GetInt32());
    public static int CheckpointKeyCount => Manifest.GetProperty("checkpoint").GetProperty("num_keys").GetInt32();
    public static int GradcamLayer => Manifest.GetProperty("gradcam_layer_index").GetInt32();
    public static JsonElement ModelConfig => Manifest.GetProperty("model_config");
    public static int MaxPositions => Manifest.GetProperty("bert_config").GetProperty("max_position_embeddings").GetInt32();
    /// <summary>Size of a shape of the manifest's tensors entry NAME along dimension DIM.</summary>
    public static long TensorDim(string name, int dim) => Manifest.GetProperty("tensors").GetProperty(name).GetProperty("shape")[dim].GetInt64();

    /// <summary>Loads tensors/NAME (e.g. "a_itm_logits.f32") with the shape and dtype the manifest gives.</summary>
    public static Tensor Load(string name)
    {
        var entry = Manifest.GetProperty("tensors").GetProperty(name);
        var shape = entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var bytes = File.ReadAllBytes(PathOf(entry.GetProperty("file").GetString()!));
        return entry.GetProperty("dtype").GetString() switch
        {
            "f32" => tensor(Cast<float>(bytes), shape),
            "f64" => tensor(Cast<double>(bytes), shape),
            "i64" => tensor(Cast<long>(bytes), shape),
            "u8" => tensor(bytes, shape),
            var d => throw new InvalidDataException($"unknown fixture dtype {d}"),
        };
    }

    private static T[] Cast<T>(byte[] bytes) where T : struct =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes).ToArray();

    /// <summary>max |actual - expected| / max |expected| (the fixture README's tolerance measure).</summary>
    public static double RelErrVsMax(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to_type(ScalarType.Float64).cpu();
        var e = expected.to_type(ScalarType.Float64).cpu();
        Assert.Equal(e.shape, a.shape);
        double maxAbs = e.abs().max().item<double>();
        double diff = (a - e).abs().max().item<double>();
        return diff / Math.Max(maxAbs, 1e-30);
    }

    /// <summary>Asserts <c>RelErrVsMax(actual, tensors/NAME.SUFFIX) &lt; tolerance</c> and logs the error.</summary>
    public static void AssertMatches(string name, string suffix, Tensor actual, double tolerance, ITestOutputHelper output)
    {
        using var expected = Load($"{name}.{suffix}");
        using var reshaped = actual.reshape(expected.shape);
        double err = RelErrVsMax(reshaped, expected);
        output.WriteLine($"{name}.{suffix}: max rel err {err:E2}");
        Assert.True(err < tolerance, $"{name}.{suffix}: {err:E3} >= {tolerance:E1}");
    }

    /// <summary>The fixture's network inputs: images (3,3,256,256) in <paramref name="dtype"/>, token ids and mask (3,9).</summary>
    public static (Tensor Images, Tensor Ids, Tensor Mask) Inputs(ScalarType dtype) =>
        (Load("input_image.f32").to_type(dtype), Load("input_ids.i64"), Load("attention_mask.i64"));

    public static ScalarType DType(string suffix) => suffix == "f32" ? ScalarType.Float32 : ScalarType.Float64;
}
