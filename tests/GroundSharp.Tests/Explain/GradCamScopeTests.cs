using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Explain;

/// <summary>The GradCAM paths share the model: each takes its layer's attention tap exclusively and restores the model on every exit.</summary>
public class GradCamScopeTests
{
    [Fact]
    public void ASecondTapOnALayerIsRefused_AndAFailedGroundingLeavesTheModelAsItWas()
    {
        using var model = FixtureModel.Load();
        model.train();
        var tokenizer = AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt"));
        var grounder = new Grounder(model, tokenizer);
        var image = ImageLoader.Load(FixtureData.PathOf("image_0_320x240.png"));
        var trainable = model.parameters().Count(p => p.requires_grad);

        using (GradCam.CaptureAttention(model))
        {
            // The layer is tapped by a training capture: grounding on it now is an error, not a silent mix of the two.
            var e = Assert.Throws<InvalidOperationException>(() => grounder.Ground(image, new[] { "qdwt" }));
            Assert.Contains("already tapped", e.Message);
            Assert.True(model.training);
            Assert.Equal(trainable, model.parameters().Count(p => p.requires_grad));
        }

        // Released: grounding works, and hands the model back in training mode.
        var results = grounder.Ground(image, new[] { "qdwt" });
        Assert.Single(results);
        Assert.True(model.training);
        Assert.Equal(trainable, model.parameters().Count(p => p.requires_grad));
        // And the naive path can take the layer after it.
        using var tok = tokenizer.Encode(new[] { "qdwt" }, model.Config.Bert.MaxPositionEmbeddings);
        using var pixels = ImagePreprocessor.ToTensor(image, model.Config.ImageRes).unsqueeze(0);
        model.eval();
        using var map = NaiveGradCam.ForPair(model, pixels, tok.InputIds, tok.AttentionMask);
        Assert.Equal(new long[] { 1, model.Config.GridSize, model.Config.GridSize }, map.shape);
    }
}

public class GrounderImageCacheTests
{
    [Fact]
    public void CachedEmbeddings_GiveTheSameResults_AndOnlyTheSameImageHits()
    {
        using var model = FixtureModel.Load();
        var tokenizer = AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt"));
        var plain = new Grounder(model, tokenizer);
        var cached = new Grounder(model, tokenizer, new GrounderOptions { ImageCacheSize = 2 });
        var a = ImageLoader.Load(FixtureData.PathOf("image_0_320x240.png"));
        var b = ImageLoader.Load(FixtureData.PathOf("image_2_512x288.png"));
        var aChanged = new RgbImage(a.Width, a.Height, (byte[])a.Pixels.Clone());
        aChanged.Pixels[1234] ^= 1; // one pixel value differs: another image

        cached.Ground(a, new[] { "qdwt" });
        Assert.Equal(0, cached.ImageCacheHits);
        foreach (var phrases in new[] { new[] { "qdaw qdwd qdkw" }, new[] { "qdbs", "qcuz qdaw" } })
        {
            var got = cached.Ground(a, phrases);
            var expected = plain.Ground(a, phrases);
            for (int i = 0; i < phrases.Length; i++)
            {
                Assert.Equal(expected[i].GridMap, got[i].GridMap);
                Assert.Equal(expected[i].Point, got[i].Point);
                Assert.Equal(expected[i].Score, got[i].Score);
            }
        }
        Assert.Equal(2, cached.ImageCacheHits);
        cached.Ground(aChanged, new[] { "qdwt" });
        cached.Ground(b, new[] { "qdwt" });
        Assert.Equal(2, cached.ImageCacheHits);
        // Two entries kept, the least recently used dropped: now b and aChanged, so a misses ...
        cached.Ground(a, new[] { "qdwt" });
        Assert.Equal(2, cached.ImageCacheHits);
        // ... and pushes out aChanged, while b stays.
        cached.Ground(b, new[] { "qdwt" });
        Assert.Equal(3, cached.ImageCacheHits);
        cached.Ground(aChanged, new[] { "qdwt" });
        Assert.Equal(3, cached.ImageCacheHits);
    }
}
