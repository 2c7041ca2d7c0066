using GroundSharp.IO;
using GroundSharp.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

public class AlbefWeightsTests
{
    [Fact]
    public void FixtureCheckpointLoadsStrictlyIgnoringOnlyTrainingState()
    {
        var sd = FixtureModel.StateDict();
        using var model = new AlbefModel(FixtureModel.Config);
        var report = AlbefWeights.Load(model, sd, strict: true, "checkpoint.pth");
        Assert.True(report.IsClean);
        Assert.Equal(269, sd.Count);
        // momentum copies (4 modules), 2 queues, 2 queue pointers, position_ids and the tied decoder bias alias
        Assert.All(report.IgnoredTrainingOnly, k => Assert.True(AlbefWeights.IsTrainingOnly(k) || k.EndsWith("decoder.bias"), k));
        Assert.Contains("image_queue", report.IgnoredTrainingOnly);
        Assert.Equal(sd.Count, report.Loaded.Count + report.IgnoredTrainingOnly.Count);
    }

    [Fact]
    public void EvaluationClassNamingWithoutBertPrefixLoadsTheSameWeights()
    {
        // The official eval script renames keys with key.replace('bert.', '').
        var sd = FixtureModel.StateDict().ToDictionary(kv => kv.Key.Replace("bert.", ""), kv => kv.Value);
        using var model = new AlbefModel(FixtureModel.Config);
        var report = AlbefWeights.Load(model, sd, strict: true, "eval.pth");
        Assert.True(report.IsClean);
        using var reference = FixtureModel.Load();
        var a = model.state_dict();
        foreach (var (k, v) in reference.state_dict()) Assert.True(v.allclose(a[k], rtol: 0, atol: 0), k);
    }

    [Fact]
    public void StrictModeListsMismatchedAndUnexpectedKeys()
    {
        var sd = FixtureModel.StateDict();
        sd["itm_head.weight"] = zeros(3, 96);
        sd["some.extra.weight"] = zeros(2);
        sd.Remove("text_proj.bias");
        using var model = new AlbefModel(FixtureModel.Config);
        var e = Assert.Throws<GroundSharpException>(() => AlbefWeights.Load(model, sd, strict: true, "bad.pth"));
        Assert.Contains("bad.pth", e.Message);
        Assert.Contains("itm_head.weight (checkpoint [3, 96], model [2, 96])", e.Message);
        Assert.Contains("some.extra.weight", e.Message);
        Assert.Contains("missing 1: text_proj.bias", e.Message);

        var report = AlbefWeights.Load(model, sd, strict: false, "bad.pth");
        Assert.Single(report.Mismatched);
        Assert.Equal(new[] { "text_proj.bias" }, report.Missing);
        Assert.Equal(new[] { "some.extra.weight" }, report.Unexpected);
    }

    [Fact]
    public void Loader_SkipsTheRandomInitForAStrictLoad_AndKeepsItForTheWeightsALenientOneLacks()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gs-init-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using var saved = FixtureModel.Load();
            string full = Path.Combine(dir, "full.safetensors"), partial = Path.Combine(dir, "partial.safetensors");
            AlbefSaver.SaveSafetensors(saved, full);
            var strict = AlbefLoader.Load(full);
            using (strict.Model)
            {
                var a = strict.Model.state_dict();
                foreach (var (k, v) in saved.state_dict()) Assert.True(v.allclose(a[k], rtol: 0, atol: 0), k);
            }
            // Without text_proj.bias: a lenient load gives it ALBEF's initialisation (zero biases), not TorchSharp's U(±1/√fan_in).
            var (sd, metadata) = SafeTensors.Load(full);
            sd.Remove("text_proj.bias");
            SafeTensors.Save(partial, sd, metadata);
            foreach (var t in sd.Values) t.Dispose();
            var lenient = AlbefLoader.Load(partial, strict: false);
            using (lenient.Model)
            {
                Assert.Equal(new[] { "text_proj.bias" }, lenient.Report.Missing);
                Assert.Equal(0.0, lenient.Model.text_proj.bias!.abs().max().item<float>());
            }
            Assert.Contains("text_proj.bias", Assert.Throws<GroundSharpException>(() => AlbefLoader.Load(partial)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Int32)]
    [InlineData(ScalarType.Bool)]
    public void IntegerOrBoolTensorForAFloatWeight_IsRefusedNamingTensorAndFile(ScalarType dtype)
    {
        var sd = FixtureModel.StateDict();
        sd["itm_head.bias"] = zeros(2).to_type(dtype);
        using var model = new AlbefModel(FixtureModel.Config);
        foreach (bool strict in new[] { true, false })
        {
            var e = Assert.Throws<GroundSharpException>(() => AlbefWeights.Load(model, sd, strict, "ints.pth"));
            Assert.Contains("ints.pth: tensor 'itm_head.bias' has dtype", e.Message);
            Assert.DoesNotContain("Pass the config", e.Message);
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteWeight_IsRefusedAtLoadNamingTensorAndFile(float bad)
    {
        var sd = FixtureModel.StateDict();
        var w = sd["text_proj.weight"].clone();
        w[w.shape[0] - 1, 1] = tensor(bad);
        sd["text_proj.weight"] = w;
        using var model = new AlbefModel(FixtureModel.Config);
        var e = Assert.Throws<GroundSharpException>(() => AlbefWeights.Load(model, sd, strict: false, "nan.pth"));
        Assert.Contains("nan.pth: tensor 'text_proj.weight' holds NaN or infinite values", e.Message);
    }

    [Fact]
    public void TwoTensorsForOneWeight_AreRefusedWithoutBlamingTheConfig()
    {
        var sd = FixtureModel.StateDict();
        sd["module.itm_head.bias"] = sd["itm_head.bias"];
        using var model = new AlbefModel(FixtureModel.Config);
        var e = Assert.Throws<GroundSharpException>(() => AlbefWeights.Load(model, sd, strict: true, "dup.pth"));
        Assert.Contains("dup.pth: tensors 'itm_head.bias' and 'module.itm_head.bias' are both the weight 'itm_head.bias'", e.Message);
        Assert.DoesNotContain("Pass the config", e.Message);
    }

    [Fact]
    public void PosEmbedIsResizedForAnotherResolution()
    {
        var sd = FixtureModel.StateDict();
        var cfg = FixtureModel.Config with { ImageRes = 384 };
        using var model = new AlbefModel(cfg);
        var report = AlbefWeights.Load(model, sd, strict: true, "checkpoint.pth");
        Assert.Equal(new long[] { 1, 24 * 24 + 1, 96 }, model.visual_encoder.pos_embed.shape);
        Assert.Contains(report.Notes, n => n.Contains("pos_embed resized from 256 to 576"));
        // [CLS] position kept; the grid resampled with bicubic (same-size resize would be the identity).
        Assert.True(model.visual_encoder.pos_embed[0, 0].allclose(sd["visual_encoder.pos_embed"][0, 0], rtol: 0, atol: 0));
        using var same = VisionTransformer.ResizePosEmbed(sd["visual_encoder.pos_embed"], 16);
        Assert.True(same.allclose(sd["visual_encoder.pos_embed"], rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void MissingMlmHeadIsANoteNotAnError()
    {
        var sd = FixtureModel.StateDict().Where(kv => !kv.Key.StartsWith("text_encoder.cls.")).ToDictionary();
        using var model = new AlbefModel(FixtureModel.Config);
        var report = AlbefWeights.Load(model, sd, strict: true, "grounding.pth");
        Assert.True(report.IsClean);
        Assert.Contains(report.Notes, n => n.Contains("MLM head"));
    }

    [Fact]
    public void SafetensorsRoundTripKeepsTheModelAndItsConfig()
    {
        using var model = FixtureModel.Load();
        var path = Path.Combine(Path.GetTempPath(), $"gs-{Guid.NewGuid():N}.safetensors");
        try
        {
            AlbefSaver.SaveSafetensors(model, path);
            var loaded = AlbefLoader.Load(path);
            Assert.True(loaded.Report.IsClean);
            Assert.Equal(model.Config, loaded.Model.Config);
            var a = loaded.Model.state_dict();
            foreach (var (k, v) in model.state_dict()) Assert.True(v.allclose(a[k], rtol: 0, atol: 0), k);
            loaded.Model.Dispose();
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void PthExportRoundTrip()
    {
        using var model = FixtureModel.Load();
        var path = Path.Combine(Path.GetTempPath(), $"gs-{Guid.NewGuid():N}.pth");
        try
        {
            TorchCheckpointWriter.SaveCheckpoint(path, model.state_dict());
            var sd = TorchCheckpointReader.LoadStateDict(path);
            using var again = new AlbefModel(model.Config);
            Assert.True(AlbefWeights.Load(again, sd, strict: true, path).IsClean);
            var a = again.state_dict();
            foreach (var (k, v) in model.state_dict()) Assert.True(v.allclose(a[k], rtol: 0, atol: 0), k);
        }
        finally { File.Delete(path); }
    }
}
