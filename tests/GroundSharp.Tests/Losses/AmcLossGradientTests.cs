using GroundSharp.Explain;
using GroundSharp.Losses;
using GroundSharp.Models;
using GroundSharp.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Losses;

/// <summary>The AMC loss gradient (second order, through the GradCAM) against central finite differences in float64.</summary>
public class AmcLossGradientTests(ITestOutputHelper output)
{
    private static AlbefConfig Tiny => new()
    {
        ImageRes = 64, PatchSize = 16, VisionWidth = 24, VisionDepth = 1, VisionHeads = 2, EmbedDim = 8,
        Bert = new BertConfig { HiddenSize = 24, NumHiddenLayers = 2, FusionLayer = 1, NumAttentionHeads = 2, IntermediateSize = 48, VocabSize = 50, MaxPositionEmbeddings = 16, EncoderWidth = 24 },
    };

    private static Tensor Loss(AlbefModel model, Tensor images, Tensor ids, Tensor mask, Tensor boxes, AmcVariant variant)
    {
        using var capture = GradCam.CaptureAttention(model);
        var itm = model.ItmLogits(model.Fuse(model.EncodeText(ids, mask), mask, model.EncodeImage(images)), mask);
        using var amc = AmcLoss.Compute(capture.Probs!, itm, mask, boxes, model.Config.GridSize, model.Config.GridSize, new AmcLossOptions { Variant = variant });
        return amc.Total.alias();
    }

    [Theory]
    [InlineData(AmcVariant.MeanAndMax)]
    [InlineData(AmcVariant.CosineDistance)]
    public void AutogradMatchesFiniteDifferences(AmcVariant variant)
    {
        using var scope = NewDisposeScope();
        using var model = new AlbefModel(Tiny, seed: 11);
        model.to(ScalarType.Float64);
        model.eval();
        var gen = new Generator(5);
        var images = randn(new long[] { 2, 3, 64, 64 }, dtype: ScalarType.Float64, generator: gen);
        var ids = tensor(new long[] { 2, 7, 9, 11, 3, 2, 13, 17, 3, 0 }, new long[] { 2, 5 });
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 }, new long[] { 2, 5 });
        var boxes = AmcLoss.BoxMasks(new[] { (5, 8, 40, 30), (20, 24, 60, 64) }, 64, 64, ScalarType.Float64);

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var probes = new (string Name, long[] Index)[]
        {
            ("itm_head.weight", new long[] { 1, 3 }),
            ("text_encoder.bert.encoder.layer.1.crossattention.self.query.weight", new long[] { 2, 5 }),
            ("text_encoder.bert.encoder.layer.1.crossattention.self.key.weight", new long[] { 0, 7 }),
            ("text_encoder.bert.encoder.layer.0.attention.self.value.weight", new long[] { 4, 1 }),
            ("visual_encoder.blocks.0.attn.qkv.weight", new long[] { 10, 3 }),
            ("text_encoder.bert.embeddings.word_embeddings.weight", new long[] { 9, 2 }),
        };
        var loss = Loss(model, images, ids, mask, boxes, variant);
        var grads = torch.autograd.grad(new[] { loss }, probes.Select(p => (Tensor)parameters[p.Name]).ToArray(), allow_unused: true);
        const double h = 1e-6;
        for (int i = 0; i < probes.Length; i++)
        {
            var p = parameters[probes[i].Name];
            var idx = probes[i].Index.Select(j => TensorIndex.Single(j)).ToArray();
            double original = p[idx].item<double>();
            double Eval(double value)
            {
                using (no_grad()) p[idx] = tensor(value, dtype: ScalarType.Float64);
                return Loss(model, images, ids, mask, boxes, variant).item<double>();
            }
            double fd = (Eval(original + h) - Eval(original - h)) / (2 * h);
            Eval(original);
            double ad = grads[i] is null || grads[i].IsInvalid ? 0 : grads[i][idx].item<double>();
            output.WriteLine($"{probes[i].Name}{string.Join(",", probes[i].Index)}: autograd {ad:E6} fd {fd:E6}");
            Assert.True(Math.Abs(ad - fd) <= 1e-6 * Math.Max(1.0, Math.Abs(fd)) + 1e-8, $"{probes[i].Name}: autograd {ad} vs finite difference {fd}");
        }
    }

    [Fact]
    public void AblationVariantsAreTheirTerms()
    {
        using var scope = NewDisposeScope();
        using var model = FixtureModel.Load(ScalarType.Float64);
        var images = FixtureData.Load("input_image.f32").to_type(ScalarType.Float64);
        var ids = FixtureData.Load("input_ids.i64");
        var mask = FixtureData.Load("attention_mask.i64");
        var boxes = FixtureData.Load("box_mask.u8").to_type(ScalarType.Float64);
        var lMean = FixtureData.Load("c_L_mean.f64").item<double>();
        var lMax = FixtureData.Load("c_L_max.f64").item<double>();
        Assert.Equal(lMean, Loss(model, images, ids, mask, boxes, AmcVariant.MeanOnly).item<double>(), 12);
        Assert.Equal(lMax, Loss(model, images, ids, mask, boxes, AmcVariant.MaxOnly).item<double>(), 12);

        // Cosine distance against a direct evaluation on the fixture's upsampled maps.
        var up = FixtureData.Load("c_gradcam_up.f64");
        double expected = 0;
        for (int b = 0; b < 3; b++)
        {
            var u = up[b].flatten().data<double>().ToArray();
            var m = boxes[b].flatten().data<double>().ToArray();
            double dot = u.Zip(m).Sum(z => z.First * z.Second), nu = Math.Sqrt(u.Sum(x => x * x)), nm = Math.Sqrt(m.Sum(x => x * x));
            expected += (1 - dot / (nu * nm)) / 3;
        }
        Assert.Equal(expected, Loss(model, images, ids, mask, boxes, AmcVariant.CosineDistance).item<double>(), 10);
    }
}
