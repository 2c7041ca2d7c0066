using GroundSharp.IO;
using GroundSharp.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>
/// AlbefLoader builds the model without initial values and lets its parameters take the checkpoint's tensors: the result
/// must be the model the copying load gives, bit for bit, and what a checkpoint may leave out must still get ALBEF's values.
/// </summary>
public class UninitialisedLoadTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void LoaderModel_EqualsTheCopyingLoad_BitForBit_AndOutlivesTheStateDict()
    {
        using var copied = FixtureModel.Load();
        var loaded = AlbefLoader.Load(FixtureData.PathOf("checkpoint.pth"), FixtureData.PathOf("cli/groundsharp-config.json"));
        using var adopted = loaded.Model;
        var expected = copied.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var actual = adopted.named_parameters().ToList();
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (name, p) in actual)
            Assert.True(Same(p, expected[name]), $"{name} differs");
        // The MLM decoder is still the word embeddings (tied), not a table of its own.
        Assert.True(Same(adopted.text_encoder.cls.predictions.decoder.weight, adopted.Bert.embeddings.word_embeddings.weight!));
        using (no_grad()) adopted.Bert.embeddings.word_embeddings.weight![1, 2] = tensor(42f);
        Assert.Equal(42f, adopted.text_encoder.cls.predictions.decoder.weight[1, 2].item<float>());
        using (no_grad()) adopted.Bert.embeddings.word_embeddings.weight![1, 2] = expected["text_encoder.bert.embeddings.word_embeddings.weight"][1, 2];
        // The loader disposed its state dict: the parameters hold their own references to the checkpoint's memory.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var image = randn(1, 3, adopted.Config.ImageRes, adopted.Config.ImageRes);
        using var _ = no_grad();
        using var a = adopted.EncodeImage(image);
        using var b = copied.EncodeImage(image);
        Assert.True(Same(a, b));
    }

    [Fact]
    public void StrictLoadWithoutTheMlmHead_GivesTheHeadAlbefsInitialValues()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var sd = FixtureModel.StateDict().Where(kv => !kv.Key.StartsWith("text_encoder.cls.")).ToDictionary();
            string path = Path.Combine(dir, "grounding.pth");
            TorchCheckpointWriter.SaveCheckpoint(path, sd);
            File.Copy(FixtureData.PathOf("cli/groundsharp-config.json"), Path.Combine(dir, "groundsharp-config.json"));
            var loaded = AlbefLoader.Load(path);
            using var model = loaded.Model;
            var head = model.named_parameters().Where(p => p.name.StartsWith("text_encoder.cls.") && !p.name.EndsWith("decoder.weight")).ToList();
            Assert.NotEmpty(head);
            foreach (var (name, p) in head)
            {
                Assert.True(AlbefWeights.AllFinite(p), $"{name} holds non-finite values");
                if (name.EndsWith("LayerNorm.weight")) Assert.True(p.eq(1).all().item<bool>(), name);
                else if (name.EndsWith("bias")) Assert.True(p.eq(0).all().item<bool>(), name);
                else Assert.InRange(p.std().item<float>(), 0.01, 0.03); // normal(0.02)
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void AllFinite_FindsNaNAndInfinities_AnywhereInTheVectorisedScanAndItsTail(ScalarType dtype)
    {
        using var ok = randn(1000, 37).to_type(dtype);
        Assert.True(AlbefWeights.AllFinite(ok));
        foreach (long at in new long[] { 0, 511, 36_999 })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                using var t = ok.clone().reshape(-1);
                t[at] = tensor(bad).to_type(dtype);
                Assert.False(AlbefWeights.AllFinite(t), $"{dtype}: {bad} at {at}");
                using var transposed = t.reshape(1000, 37).t(); // not contiguous
                Assert.False(AlbefWeights.AllFinite(transposed));
            }
        // The largest finite values are finite.
        using var big = full(new long[] { 100 }, dtype == ScalarType.Float16 ? 65504f : 3e38f).to_type(dtype);
        Assert.True(AlbefWeights.AllFinite(big));
    }
}
