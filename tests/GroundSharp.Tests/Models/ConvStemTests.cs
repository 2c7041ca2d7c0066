using GroundSharp.Tests.IO;
using GroundSharp.Models;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Models;

/// <summary>The ViT's convolutional patch stem (<c>patch_stem: "conv"</c>), a from-scratch option.</summary>
public class ConvStemTests
{
    private static readonly AlbefConfig Stem = AlbefConfig.Tiny with { ImageRes = 64, PatchStem = PatchStem.Conv };

    [Fact]
    public void ConvStem_KeepsThePatchGrid_UnderItsOwnKeys()
    {
        using var scope = NewDisposeScope();
        var model = new AlbefModel(Stem, seed: 3);
        Assert.Equal(new[] { 12, 24, 48, 96 }, Stem.ConvStemChannels()); // 16 = 2^4: four stride-2 layers to vision_width
        var images = randn(new long[] { 2, 3, 64, 64 }, generator: new Generator(5));
        var tokens = model.visual_encoder.patch_embed.Forward(images);
        Assert.Equal(new long[] { 2, Stem.NumPatches, Stem.VisionWidth }, tokens.shape);
        // The published ALBEF layout is untouched: the linear stem has no stem.* weights.
        Assert.Contains(model.state_dict().Keys, k => k.StartsWith("visual_encoder.patch_embed.stem.0."));
        Assert.DoesNotContain(new AlbefModel(AlbefConfig.Tiny, seed: 3).state_dict().Keys, k => k.Contains(".stem."));
    }

    [Fact]
    public void ConvStemToken_IsCentredOnItsOwnPatch()
    {
        using var scope = NewDisposeScope();
        var model = new AlbefModel(Stem, seed: 3);
        var convs = model.visual_encoder.patch_embed.stem!.children().OfType<TorchSharp.Modules.Conv2d>().ToList();
        Assert.Equal(4, convs.Count);
        using (no_grad()) foreach (var c in convs) c.weight!.FillWith(1.0); // positive weights: no cancellation in the support
        var image = zeros(new long[] { 1, 3, 64, 64 }).requires_grad_();
        var y = image;
        foreach (var c in convs) y = c.forward(y);
        y[0, TensorIndex.Colon, 1, 1].sum().backward();
        // Rows (and columns) of the pixels token (1, 1) sees: 1…46, centred on 23.5 — the centre of its patch, pixels 16…31.
        var rows = image.grad!.abs().sum(new long[] { 0, 1, 3 });
        var values = rows.data<float>().ToArray();
        var seen = Enumerable.Range(0, 64).Where(i => values[i] > 0).ToArray();
        Assert.Equal(1, seen.First());
        Assert.Equal(46, seen.Last());
        Assert.Equal(16 + 7.5, (seen.First() + seen.Last()) / 2.0);
    }

    [Fact]
    public void ConvStemModel_SavesAndLoadsStrictly_ToTheSameEmbeddings()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempFolder();
        var model = new AlbefModel(Stem, seed: 7);
        model.eval();
        var path = dir.File("stem.safetensors");
        AlbefSaver.SaveSafetensors(model, path);
        var loaded = AlbefLoader.Load(path).Model; // the config travels in the file's metadata
        var images = randn(new long[] { 1, 3, 64, 64 }, generator: new Generator(8));
        Assert.True(loaded.EncodeImage(images).allclose(model.EncodeImage(images), rtol: 0, atol: 0));
    }

    [Fact]
    public void PatchStemKey_RoundTrips_IsOmittedForAlbefsLinearStem_AndIsChecked()
    {
        var c = AlbefConfig.Parse("""{"patch_stem": "conv"}""", "cfg");
        Assert.Equal(PatchStem.Conv, c.PatchStem);
        Assert.Equal(c.ToJson(), AlbefConfig.Parse(c.ToJson(), "again").ToJson());
        Assert.DoesNotContain("patch_stem", new AlbefConfig().ToJson());
        var e = Assert.Throws<GroundSharpException>(() => AlbefConfig.Parse("""{"patch_stem": "resnet"}""", "bad.json"));
        Assert.Contains("bad.json: 'patch_stem' must be \"linear\" or \"conv\", got \"resnet\"", e.Message);
        e = Assert.Throws<GroundSharpException>(() => AlbefConfig.Parse("""{"patch_stem": "conv", "image_res": 96, "patch_size": 12}""", "odd.json"));
        Assert.Contains("odd.json: patch_stem \"conv\" needs a power-of-two patch_size (got 12)", e.Message);
    }
}
