using GroundSharp.Models;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

public class PatchOnlyFusionTests
{
    /// <summary>Fusion output after replacing the image [CLS] token by noise, against the original one.</summary>
    private static double ClsInfluence(bool fusionReadsImageCls)
    {
        using var scope = NewDisposeScope();
        var model = new AlbefModel(AlbefConfig.Tiny with { FusionReadsImageCls = fusionReadsImageCls }, seed: 3);
        model.eval();
        using var _ = no_grad();
        var gen = new Generator(5);
        var images = randn(new long[] { 2, 3, model.Config.ImageRes, model.Config.ImageRes }, generator: gen);
        var ids = tensor(new long[,] { { 101, 1037, 2417, 102 }, { 101, 1996, 2732, 102 } });
        var mask = ones_like(ids);
        var text = model.EncodeText(ids, mask);
        var image = model.EncodeImage(images);
        var changed = image.clone();
        changed.select(1, 0).copy_(randn(changed.select(1, 0).shape, generator: gen) * 10);
        return (model.Fuse(text, mask, image) - model.Fuse(text, mask, changed)).abs().max().item<float>();
    }

    [Fact]
    public void WithoutTheImageClsTheFusionIgnoresIt() => Assert.True(ClsInfluence(fusionReadsImageCls: false) < 1e-5);

    [Fact]
    public void AlbefsFusionReadsTheImageCls() => Assert.True(ClsInfluence(fusionReadsImageCls: true) > 1e-3);
}
