using GroundSharp.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.IO;

/// <summary>Reads the fixture's checkpoint.pth, written by real PyTorch (torch.save of an ALBEF/AMC model).</summary>
public class TorchCheckpointFixtureTests
{
    private static readonly string CheckpointPath = FixtureData.PathOf("checkpoint.pth");

    private static readonly Lazy<Dictionary<string, Tensor>> StateDict = new(() => TorchCheckpointReader.LoadStateDict(CheckpointPath));

    [Fact]
    public void Load_GivesModelConfigAndEpoch()
    {
        var root = Assert.IsType<PickleDict>(TorchCheckpointReader.Load(CheckpointPath));
        try
        {
            Assert.Equal(new object[] { "model", "config", "epoch" }, root.Keys.ToArray());
            Assert.Equal(0L, root["epoch"]);

            var config = Assert.IsType<PickleDict>(root["config"]);
            Assert.False(config.IsOrderedDict);
            var expected = FixtureData.ModelConfig;
            Assert.Equal(expected.GetProperty("image_res").GetInt64(), config["image_res"]);
            Assert.Equal(expected.GetProperty("momentum").GetDouble(), config["momentum"]);
            Assert.Equal(expected.GetProperty("distill").GetBoolean(), config["distill"]);
            Assert.Equal(expected.GetProperty("bert_config").GetString(), config["bert_config"]);

            var model = Assert.IsType<PickleDict>(root["model"]);
            Assert.True(model.IsOrderedDict);
            Assert.Equal(FixtureData.CheckpointKeyCount, model.Count);
            Assert.IsType<PickleDict>(model.Attributes["_metadata"]); // state_dict()'s module versions
        }
        finally
        {
            foreach (var t in ((PickleDict)root["model"]!).Values.OfType<Tensor>()) t.Dispose();
        }
    }

    [Fact]
    public void LoadStateDict_HasTheManifestKeysShapesAndDtypesInOrder()
    {
        var expected = FixtureData.Manifest.GetProperty("checkpoint").GetProperty("keys").EnumerateArray().ToList();
        var stateDict = StateDict.Value;

        Assert.Equal(FixtureData.CheckpointKeyCount, expected.Count);
        Assert.Equal(expected.Select(e => e.GetProperty("key").GetString()), stateDict.Keys);
        foreach (var e in expected)
        {
            var tensor = stateDict[e.GetProperty("key").GetString()!];
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(), tensor.shape);
            var dtype = e.GetProperty("dtype").GetString() switch { "float32" => ScalarType.Float32, "int64" => ScalarType.Int64, var d => throw new Xunit.Sdk.XunitException(d) };
            Assert.Equal(dtype, tensor.dtype);
            Assert.True(tensor.is_contiguous());
            Assert.Equal(DeviceType.CPU, tensor.device_type);
        }
    }

    [Fact]
    public void LoadStateDict_TempMatchesManifest()
    {
        float expected = (float)FixtureData.Manifest.GetProperty("temp").GetProperty("value_f32").GetDouble();
        Assert.Equal(expected, StateDict.Value["temp"].item<float>());
    }

    [Fact]
    public void LoadStateDict_TiedTensorsAreEqual()
    {
        var sd = StateDict.Value;
        TensorAssert.Identical(sd["text_encoder.bert.embeddings.word_embeddings.weight"], sd["text_encoder.cls.predictions.decoder.weight"]);
        TensorAssert.Identical(sd["text_encoder.cls.predictions.bias"], sd["text_encoder.cls.predictions.decoder.bias"]);
        TensorAssert.Identical(sd["text_encoder_m.bert.embeddings.word_embeddings.weight"], sd["text_encoder_m.cls.predictions.decoder.weight"]);
        // Independent copies: changing one must not change its twin.
        Assert.NotSame(sd["text_encoder.cls.predictions.decoder.weight"], sd["text_encoder.bert.embeddings.word_embeddings.weight"]);
    }

    [Fact]
    public void LoadStateDict_ReadsInt64Buffers()
    {
        var sd = StateDict.Value;
        Assert.Equal(ScalarType.Int64, sd["queue_ptr_img"].dtype);
        Assert.Equal(new long[] { 1 }, sd["queue_ptr_img"].shape);
        Assert.Equal(0L, sd["queue_ptr_img"].item<long>());
        using var positions = arange(FixtureData.MaxPositions, dtype: ScalarType.Int64).unsqueeze(0);
        TensorAssert.Identical(positions, sd["text_encoder.bert.embeddings.position_ids"]);
    }

    [Fact]
    public void LoadStateDict_TensorsSurviveTheCallersDisposeScope()
    {
        Dictionary<string, Tensor> sd;
        using (NewDisposeScope()) sd = TorchCheckpointReader.LoadStateDict(CheckpointPath);
        Assert.False(sd["temp"].IsInvalid);
        Assert.Equal(StateDict.Value["temp"].item<float>(), sd["temp"].item<float>());
        foreach (var t in sd.Values) t.Dispose();
    }
}
