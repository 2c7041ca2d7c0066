using GroundSharp.Models;
using Xunit;

namespace GroundSharp.Tests.Models;

public class AlbefConfigTests
{
    [Fact]
    public void FixtureConfigParses()
    {
        var c = FixtureModel.Config;
        Assert.Equal(256, c.ImageRes);
        Assert.Equal(96, c.VisionWidth);
        Assert.Equal(2, c.VisionDepth);
        Assert.Equal(3, c.EffectiveGradcamLayer);
        Assert.Equal(2000, c.Bert.VocabSize);
        Assert.Equal(2, c.Bert.FusionLayer);
        Assert.Equal(64, c.Bert.MaxPositionEmbeddings);
        Assert.Equal(1e-12, c.Bert.LayerNormEps);
    }

    [Fact]
    public void MissingKeysTakeAlbefBaseDefaults()
    {
        var c = AlbefConfig.Parse("{}");
        Assert.Equal(256, c.ImageRes);
        Assert.Equal(16, c.PatchSize);
        Assert.Equal(768, c.VisionWidth);
        Assert.Equal(12, c.VisionDepth);
        Assert.Equal(12, c.VisionHeads);
        Assert.Equal(256, c.EmbedDim);
        Assert.Equal(30522, c.Bert.VocabSize);
        Assert.Equal(6, c.Bert.FusionLayer);
        Assert.Equal(12, c.Bert.NumHiddenLayers);
        Assert.Equal(768, c.Bert.EncoderWidth);
        Assert.Equal(8, c.EffectiveGradcamLayer); // the 3rd fusion layer, as the official code's layer[8]
    }

    [Theory]
    [InlineData("{\"image_size\": 256}", "unknown config key 'image_size'")]
    [InlineData("{\"bert\": {\"hidden_sise\": 96}}", "unknown key 'bert.hidden_sise'")]
    [InlineData("{\"image_res\": \"big\"}", "'image_res' must be an integer")]
    [InlineData("{\"image_res\": 250}", "multiple of patch_size")]
    [InlineData("{\"gradcam_layer\": 2}", "gradcam_layer (2) must be a fusion layer")]
    [InlineData("{\"bert\": {\"hidden_act\": \"relu\"}}", "'hidden_act'")]
    [InlineData("{\"vision_width\": 96, \"bert\": {\"encoder_width\": 768}}", "encoder_width (768) must equal vision_width (96)")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("{not json", "not valid JSON")]
    public void BadConfigsGiveClearErrors(string json, string expected)
    {
        var e = Assert.Throws<GroundSharpException>(() => AlbefConfig.Parse(json, "my.json"));
        Assert.Contains("my.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("{\"bert\": {\"vocab_size\": 2000000000}}", "bert.vocab_size 2000000000")]
    [InlineData("{\"vision_width\": 76800, \"vision_heads\": 12, \"bert\": {\"encoder_width\": 76800}}", "vision_width 76800")]
    [InlineData("{\"bert\": {\"intermediate_size\": 300000000}}", "bert.intermediate_size 300000000")]
    [InlineData("{\"image_res\": 1048576, \"patch_size\": 1}", "patches")]
    [InlineData("{\"bert\": {\"intermediate_size\": -5}}", "bert.intermediate_size (-5) must be > 0")]
    [InlineData("{\"vision_mlp_ratio\": 0}", "vision_mlp_ratio (0) must be > 0")]
    public void SizesThatCannotBeAllocatedAreRefusedBeforeAllocating(string json, string expected)
    {
        var e = Assert.Throws<GroundSharpException>(() => AlbefConfig.Parse(json, "huge.json"));
        Assert.StartsWith("huge.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ShippedSizesAreWellBelowTheParameterCap()
    {
        AlbefConfig.Base.Validate();
        AlbefConfig.Tiny.Validate();
    }

    [Fact]
    public void VisionWidthAloneSetsEncoderWidthWhenTheBertConfigOmitsIt()
    {
        var c = AlbefConfig.Parse("{\"vision_width\": 96, \"vision_heads\": 12, \"bert\": {\"hidden_size\": 96}}");
        Assert.Equal(96, c.Bert.EncoderWidth);
    }

    [Fact]
    public void JsonRoundTrip()
    {
        var c = FixtureModel.Config;
        Assert.Equal(c, AlbefConfig.Parse(c.ToJson()));
    }

    [Fact]
    public void PatchOnlyFusionRoundTripsAndDefaultsToAlbef()
    {
        Assert.True(AlbefConfig.Parse("{}").FusionReadsImageCls);
        var c = FixtureModel.Config with { FusionReadsImageCls = false };
        Assert.Equal(c, AlbefConfig.Parse(c.ToJson()));
    }
}
