using GroundSharp.Explain;
using GroundSharp.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Explain;

/// <summary>Evaluation-mode GradCAM against the authors' val() (fixture section b).</summary>
public class GradCamFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("f32", 1e-4)]
    [InlineData("f64", 1e-10)]
    public void EvalGradCamMatchesAuthorsCode(string suffix, double tol)
    {
        var dtype = FixtureData.DType(suffix);
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load(dtype);
        var (images, ids, mask) = FixtureData.Inputs(dtype);

        Tensor imageEmbeds;
        using (no_grad()) imageEmbeds = model.EncodeImage(images);
        using var cam = GradCam.ForGrounding(model, imageEmbeds, ids, mask, FixtureData.GradcamLayer);

        FixtureData.AssertMatches("b_attention_map", suffix, cam.Attention, tol, output);
        FixtureData.AssertMatches("b_attention_grad", suffix, cam.AttentionGrad, tol, output);
        FixtureData.AssertMatches("b_itm_logits_multimodal", suffix, cam.ItmLogits, tol, output);
        // The authors divide by the padded length T = 9; we divide by each phrase's own length.
        var ownLength = mask.sum(1).to_type(dtype).view(-1, 1, 1);
        FixtureData.AssertMatches("b_gradcam", suffix, cam.Maps * ownLength / mask.shape[1], tol, output);
        // Same values through the authors' convention directly.
        var official = GradCam.MapFromAttention(cam.Attention, cam.AttentionGrad, mask, FixtureData.Grid.H, FixtureData.Grid.W, divideByOwnLength: false);
        FixtureData.AssertMatches("b_gradcam", suffix, official, tol, output);

    }

    [Fact]
    public void MapsDoNotDependOnBatchMates()
    {
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load();
        var images = FixtureData.Load("input_image.f32");
        var ids = FixtureData.Load("input_ids.i64");
        var mask = FixtureData.Load("attention_mask.i64");
        Tensor img0;
        using (no_grad()) img0 = model.EncodeImage(images.narrow(0, 0, 1));

        // All the phrases against image 0 in one batch (shared image embeddings) ...
        using var batched = GradCam.ForGrounding(model, img0, ids, mask, FixtureData.GradcamLayer);
        for (int i = 0; i < ids.shape[0]; i++)
        {
            // ... equal each phrase alone, unpadded.
            long len = mask[i].sum().item<long>();
            using var single = GradCam.ForGrounding(model, img0, ids.narrow(0, i, 1).narrow(1, 0, len), mask.narrow(0, i, 1).narrow(1, 0, len), FixtureData.GradcamLayer);
            double err = FixtureData.RelErrVsMax(batched.Maps.narrow(0, i, 1), single.Maps);
            Assert.True(err < 1e-5, $"phrase {i}: {err}");
            Assert.True(FixtureData.RelErrVsMax(batched.ItmLogits.narrow(0, i, 1), single.ItmLogits) < 1e-5);
        }
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }
}
