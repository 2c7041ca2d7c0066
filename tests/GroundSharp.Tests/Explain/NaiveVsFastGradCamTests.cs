using GroundSharp.Explain;
using GroundSharp.Models;
using GroundSharp.Tests.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Explain;

public class NaiveVsFastGradCamTests
{
    [Fact]
    public void FastPathEqualsTheAuthorsWholeModelBackward()
    {
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load();
        var images = FixtureData.Load("input_image.f32");
        var ids = FixtureData.Load("input_ids.i64");
        var mask = FixtureData.Load("attention_mask.i64");
        Tensor embeds;
        using (no_grad()) embeds = model.EncodeImage(images);
        using var fast = GradCam.ForGrounding(model, embeds, ids, mask);
        for (int i = 0; i < 3; i++)
        {
            var naive = NaiveGradCam.ForPair(model, images.narrow(0, i, 1), ids.narrow(0, i, 1), mask.narrow(0, i, 1));
            Assert.True(FixtureData.RelErrVsMax(fast.Maps.narrow(0, i, 1), naive) < 1e-5);
        }
        Assert.All(model.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
    }

    [Fact]
    public void BaseSizeRandomInitialisationIsFiniteAndDeterministic()
    {
        using var a = new AlbefModel(AlbefConfig.Base, seed: 3);
        using var b = new AlbefModel(AlbefConfig.Base, seed: 3);
        var pb = b.state_dict();
        foreach (var (name, p) in a.state_dict())
        {
            Assert.False(p.isnan().any().item<bool>(), name);
            Assert.True(p.allclose(pb[name], rtol: 0, atol: 0), name);
        }
        Assert.Equal(1.0f, a.visual_encoder.norm.weight!.mean().item<float>());
        Assert.InRange(a.itm_head.weight!.std().item<float>(), 0.015, 0.025);
    }
}
