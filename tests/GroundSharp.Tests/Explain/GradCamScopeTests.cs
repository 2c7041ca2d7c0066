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
