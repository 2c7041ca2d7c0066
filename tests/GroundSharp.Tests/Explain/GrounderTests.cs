using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Tests.Models;
using Xunit;

namespace GroundSharp.Tests.Explain;

public class GrounderTests
{
    [Fact]
    public void GradCamThatFails_LeavesTheCallersParametersTrainable()
    {
        using var model = FixtureModel.Load();
        foreach (var p in model.parameters()) p.requires_grad = true;
        var tokenizer = AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt"));
        using var tokens = tokenizer.Encode(["qdaw"], 64);
        // Image embeddings of the wrong width make the text-image fusion fail before any gradient is taken.
        using var wrong = TorchSharp.torch.zeros(1, 257, 7);
        Assert.ThrowsAny<Exception>(() => GradCam.ForGrounding(model, wrong, tokens.InputIds, tokens.AttentionMask));
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void GroundReturnsMapsPointsAndBoxesInOriginalImagePixels()
    {
        using var model = FixtureModel.Load();
        var grounder = new Grounder(model, AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt")));
        var image = ImageLoader.Load(FixtureData.PathOf("image_2_512x288.png"));
        // Six phrases: the full-size maps are upsampled four at a time, so this crosses a group.
        var results = grounder.Ground(image, new[] { "qdaw qdwd qdkw", "qdbs qcqi qcuz", "qdwt", "qdkw", "qcuz qdaw", "qdbs" });
        Assert.Equal(6, results.Count);
        foreach (var r in results)
        {
            Assert.Equal(16 * 16, r.GridMap.Length);
            var heat = r.FullSizeHeatmap();
            Assert.Equal(512 * 288, heat.Length);
            Assert.InRange(r.Point.X, 0, 511);
            Assert.InRange(r.Point.Y, 0, 287);
            // the point is the heatmap's first maximum, and it lies inside the derived box
            Assert.Equal(Array.IndexOf(heat, heat.Max()), r.Point.Y * 512 + r.Point.X);
            // the box taken in place from the transient full-size map is the box of the map itself
            Assert.Equal(HeatmapBox.FromPeakRegion(heat, 512, 288, r.Point), r.Box);
            Assert.True(r.Box.X1 <= r.Point.X && r.Point.X < r.Box.X2 && r.Box.Y1 <= r.Point.Y && r.Point.Y < r.Box.Y2);
            Assert.InRange(r.Score, 0, 1);
            Assert.All(r.GridMap, v => Assert.True(v >= 0));
        }
    }

    [Fact]
    public void EmptyPhraseListIsAClearError()
    {
        using var model = FixtureModel.Load();
        var grounder = new Grounder(model, AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt")));
        var image = ImageLoader.Load(FixtureData.PathOf("image_0_320x240.png"));
        Assert.Throws<GroundSharpException>(() => grounder.Ground(image, Array.Empty<string>()));
    }

    [Fact]
    public void ManyPhrasesAreSplitIntoBatchesWithTheSameResult()
    {
        using var model = FixtureModel.Load();
        var vocab = AlbefTokenizer.FromVocab(FixtureData.PathOf("cli/vocab.txt"));
        var image = ImageLoader.Load(FixtureData.PathOf("image_1_200x300.png"));
        var phrases = new[] { "qdaw qdwd", "qdbs", "qcqi qcuz qdwt", "qdkw", "qczu qcrt" };
        var one = new Grounder(model, vocab, new GrounderOptions { MaxBatch = 32 }).Ground(image, phrases);
        var two = new Grounder(model, vocab, new GrounderOptions { MaxBatch = 2 }).Ground(image, phrases);
        for (int i = 0; i < phrases.Length; i++)
        {
            Assert.Equal(one[i].Point, two[i].Point);
            Assert.True(one[i].GridMap.Zip(two[i].GridMap).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5 * one[i].GridMap.Max());
        }
    }
}
