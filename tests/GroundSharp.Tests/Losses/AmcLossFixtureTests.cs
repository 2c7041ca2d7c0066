using GroundSharp.Explain;
using GroundSharp.Losses;
using GroundSharp.Models;
using GroundSharp.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Losses;

/// <summary>Training-mode GradCAM, AMC loss terms and the second-order gradients against the authors' code (fixture section c).</summary>
public class AmcLossFixtureTests(ITestOutputHelper output)
{
    private static readonly string[] GradParameters =
    {
        "itm_head.weight",
        "text_encoder.bert.encoder.layer.0.attention.self.query.weight",
        "text_encoder.bert.encoder.layer.3.crossattention.self.key.weight",
        "text_encoder.bert.encoder.layer.3.crossattention.self.query.weight",
        "visual_encoder.blocks.0.attn.qkv.weight",
        "visual_encoder.patch_embed.proj.weight",
    };

    [Theory]
    [InlineData("f32", 1e-4, 1e-3)]
    [InlineData("f64", 1e-10, 1e-10)]
    public void AmcLossAndItsGradientsMatchAuthorsCode(string suffix, double tol, double gradTol)
    {
        var dtype = FixtureData.DType(suffix);
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load(dtype); // eval(): dropout off, as the fixture
        var (images, ids, mask) = FixtureData.Inputs(dtype);
        var boxMask = FixtureData.Load("box_mask.u8").to_type(dtype);

        // The positive pass of the training forward: text mode, then fusion mode with the image.
        using var capture = GradCam.CaptureAttention(model, FixtureData.GradcamLayer);
        var imageEmbeds = model.EncodeImage(images);
        var text = model.EncodeText(ids, mask);
        var itm = model.ItmLogits(model.Fuse(text, mask, imageEmbeds), mask);
        using var amc = AmcLoss.Compute(capture.Probs!, itm, mask, boxMask, FixtureData.Grid.H, FixtureData.Grid.W);

        FixtureData.AssertMatches("c_fmaps", suffix, capture.Probs!, tol, output);
        FixtureData.AssertMatches("c_itm_pos", suffix, itm, tol, output);
        FixtureData.AssertMatches("c_grad_wrt_act", suffix, amc.AttentionGrad, tol, output);
        FixtureData.AssertMatches("c_gradcam_raw", suffix, amc.CamRaw, tol, output);
        FixtureData.AssertMatches("c_gradcam_norm", suffix, amc.CamNorm, tol, output);
        FixtureData.AssertMatches("c_gradcam_up", suffix, amc.CamUp, tol, output);
        FixtureData.AssertMatches("c_avg_in", suffix, amc.AvgIn, tol, output);
        FixtureData.AssertMatches("c_avg_out", suffix, amc.AvgOut, tol, output);
        FixtureData.AssertMatches("c_max_in", suffix, amc.MaxIn, tol, output);
        FixtureData.AssertMatches("c_max_out", suffix, amc.MaxOut, tol, output);
        FixtureData.AssertMatches("c_L_mean", suffix, amc.LMean, tol, output);
        FixtureData.AssertMatches("c_L_max", suffix, amc.LMax, tol, output);
        FixtureData.AssertMatches("c_total", suffix, amc.Total, tol, output);

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        // itm_head.bias last: it gets no gradient from this loss (the GradCAM does not depend on it).
        var wanted = GradParameters.Select(n => (Tensor)parameters[n]).Append(model.itm_head.bias!).ToArray();
        var grads = torch.autograd.grad(new[] { amc.Total }, wanted, retain_graph: false, create_graph: false, allow_unused: true);
        for (int i = 0; i < GradParameters.Length; i++)
            FixtureData.AssertMatches("c_grad__" + GradParameters[i], suffix, grads[i], gradTol, output);
        var biasGrad = grads[^1];
        Assert.True(biasGrad is null || biasGrad.IsInvalid || biasGrad.abs().max().item<double>() == 0);

    }

    [Fact]
    public void BoxMasksFollowTheFixtureRule()
    {
        var boxes = FixtureData.Load("box256_xyxy.i64");
        var list = Enumerable.Range(0, (int)boxes.shape[0]).Select(i => ((int)boxes[i, 0].item<long>(), (int)boxes[i, 1].item<long>(), (int)boxes[i, 2].item<long>(), (int)boxes[i, 3].item<long>())).ToList();
        int maskSize = FixtureData.ModelConfig.GetProperty("mask_size").GetInt32();
        using var m = AmcLoss.BoxMasks(list, maskSize, maskSize);
        Assert.True(m.to_type(ScalarType.Byte).equal(FixtureData.Load("box_mask.u8")).all().item<bool>());
    }
}
