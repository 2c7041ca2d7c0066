using GroundSharp.Models;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>The two from-scratch options of the fusion: the ITM head on the text-token mean, a larger cross-attention start.</summary>
public class FromScratchFusionTests
{
    [Fact]
    public void ItmHeadReadsTheMeanOfTheKeptTextTokens_OrTheClsByDefault()
    {
        using var scope = NewDisposeScope();
        var hidden = randn(new long[] { 2, 4, AlbefConfig.Tiny.Bert.HiddenSize }, generator: new Generator(1));
        var mask = tensor(new long[,] { { 1, 1, 1, 0 }, { 1, 1, 0, 0 } });
        var mean = new AlbefModel(AlbefConfig.Tiny with { ItmReadsTextMean = true }, seed: 2);
        var expected = stack(new[] { hidden[0].narrow(0, 0, 3).mean(new long[] { 0 }), hidden[1].narrow(0, 0, 2).mean(new long[] { 0 }) });
        Assert.True(mean.ItmLogits(hidden, mask).allclose(mean.itm_head.forward(expected), rtol: 1e-5, atol: 1e-6));
        var cls = new AlbefModel(AlbefConfig.Tiny, seed: 2);
        Assert.True(cls.ItmLogits(hidden, mask).allclose(cls.itm_head.forward(hidden.select(1, 0)), rtol: 0, atol: 0));
    }

    [Fact]
    public void CrossAttentionInitScale_WidensOnlyTheCrossAttentionWeights()
    {
        using var scope = NewDisposeScope();
        var plain = new AlbefModel(AlbefConfig.Tiny, seed: 4);
        var wide = new AlbefModel(AlbefConfig.Tiny with { CrossAttentionInitScale = 5 }, seed: 4);
        var a = plain.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int scaled = 0;
        foreach (var (name, p) in wide.named_parameters())
        {
            bool cross = name.Contains(".crossattention.") && name.EndsWith(".weight") && !name.Contains("LayerNorm");
            if (cross) scaled++;
            // The same draws: five times as wide where scaled (no value reaches the ±2 clamp at std 0.1), unchanged elsewhere.
            Assert.True(p.allclose(cross ? a[name] * 5 : a[name], rtol: 1e-6, atol: 0), name);
        }
        Assert.Equal(4 * (AlbefConfig.Tiny.Bert.NumHiddenLayers - AlbefConfig.Tiny.Bert.FusionLayer), scaled); // query, key, value, output
    }

    [Fact]
    public void ConfigKeys_RoundTrip_AreOmittedAtAlbefsDefaults_AndAreChecked()
    {
        var c = AlbefConfig.Parse("""{"itm_reads_text_mean": true, "cross_attention_init_scale": 5}""", "cfg");
        Assert.True(c.ItmReadsTextMean);
        Assert.Equal(5, c.CrossAttentionInitScale);
        var json = c.ToJson();
        Assert.Equal(c.ToJson(), AlbefConfig.Parse(json, "again").ToJson());
        Assert.DoesNotContain("itm_reads_text_mean", new AlbefConfig().ToJson());
        Assert.DoesNotContain("cross_attention_init_scale", new AlbefConfig().ToJson());
        var e = Assert.Throws<GroundSharpException>(() => AlbefConfig.Parse("""{"cross_attention_init_scale": 0}""", "bad.json"));
        Assert.Contains("bad.json: cross_attention_init_scale (0) must be > 0", e.Message);
    }
}
