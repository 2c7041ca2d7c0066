using GroundSharp.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>Plain forward of the fixture model against the authors' outputs (fixture section a).</summary>
public class AlbefForwardFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("f32", 1e-4)]
    [InlineData("f64", 1e-10)]
    public void ForwardMatchesAuthorsCode(string suffix, double tol)
    {
        var dtype = FixtureData.DType(suffix);
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load(dtype);
        using var _ = no_grad();
        var (images, ids, mask) = FixtureData.Inputs(dtype);

        var imageEmbeds = model.EncodeImage(images);
        Assert.Equal(new long[] { FixtureData.ImageCount, FixtureData.ImageTokens, FixtureData.VisionWidth }, imageEmbeds.shape);
        var textEmbeds = model.EncodeText(ids, mask);
        var fusion = model.Fuse(textEmbeds, mask, imageEmbeds);
        var itm = model.ItmLogits(fusion, mask);
        var imageFeat = model.ImageFeatures(imageEmbeds);
        var textFeat = model.TextFeatures(textEmbeds);
        var sim = imageFeat.matmul(textFeat.t()) / model.temp;

        FixtureData.AssertMatches("a_image_embeds", suffix, imageEmbeds, tol, output);
        FixtureData.AssertMatches("a_text_embeds", suffix, textEmbeds, tol, output);
        FixtureData.AssertMatches("a_fusion_hidden", suffix, fusion, tol, output);
        FixtureData.AssertMatches("a_fusion_cls", suffix, fusion.select(1, 0), tol, output);
        FixtureData.AssertMatches("a_itm_logits", suffix, itm, tol, output);
        FixtureData.AssertMatches("a_image_feat", suffix, imageFeat, tol, output);
        FixtureData.AssertMatches("a_text_feat", suffix, textFeat, tol, output);
        FixtureData.AssertMatches("a_sim_i2t", suffix, sim, tol, output);

    }
}
