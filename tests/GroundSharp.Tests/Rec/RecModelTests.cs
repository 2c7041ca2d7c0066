using GroundSharp.Eval;
using GroundSharp.Rec;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Rec;

public class RecModelTests
{
    [Fact]
    public void CmaWithClosedGatesReturnsItsInputExactly()
    {
        using var cma = new CrossModalityAttention(dim: 16, textDim: 12, heads: 4, ffnHidden: 32, layerCount: 2);
        using var grid = randn(2, 16, 3, 5);
        using var sentence = randn(2, 12);
        using var output = cma.Forward(grid, sentence);
        Assert.Equal(grid.shape, output.shape);
        Assert.True(output.equal(grid).all().item<bool>());
        Assert.All(cma.Gates, g => Assert.Equal(0f, g.item<float>()));

        using (no_grad()) cma.layers[0].cross_gate.fill_(0.5);
        using var opened = cma.Forward(grid, sentence);
        Assert.False(opened.equal(grid).all().item<bool>());
    }

    [Fact]
    public void FusionOfMapsResizedToTheGridFirstEqualsFusionOfTheFullMaps()
    {
        // The cache keeps only grid-sized maps: pooling and nearest upsampling commute with the 1×1 projections.
        using var fusion = new MultiScaleFusion([6, 4, 3], dim: 5, targetScale: 1);
        var maps = new[] { randn(2, 6, 2, 2), randn(2, 4, 4, 4), randn(2, 3, 8, 8) };
        using var full = fusion.Forward(maps);
        var resized = maps.Select(m => MultiScaleFusion.ToGrid(m, [4, 4])).ToArray();
        using var first = fusion.Forward(resized);
        Assert.Equal(new long[] { 2, 5, 4, 4 }, full.shape);
        Assert.True(full.allclose(first, rtol: 1e-5, atol: 1e-6));
        foreach (var t in maps.Concat(resized)) t.Dispose();
    }

    [Fact]
    public void FilmIsReluOfGammaTimesFPlusBeta()
    {
        using var layer = new CmaLayer(dim: 4, textDim: 3, heads: 2, ffnHidden: 8);
        using var f = randn(1, 5, 4);
        using var y = randn(1, 3);
        using var film = layer.Film(f, y);
        using var gamma = layer.film_gamma.forward(y);
        using var beta = layer.film_beta.forward(y);
        var fv = f.data<float>().ToArray();
        var g = gamma.data<float>().ToArray();
        var b = beta.data<float>().ToArray();
        var actual = film.data<float>().ToArray();
        for (int n = 0; n < 5; n++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(Math.Max(0, g[c] * fv[n * 4 + c] + b[c]), actual[n * 4 + c], 5);
    }

    [Fact]
    public void VocabularyTokenisesLowerCasesAndPads()
    {
        Assert.Equal(new[] { "left", "most", "red", "cube" }, RecVocabulary.Tokenize("Left-most RED cube!"));
        var vocabulary = RecVocabulary.Build(["red cube", "red ball", "blue cube", "red"]);
        Assert.Equal(new[] { "<pad>", "<unk>", "red", "cube", "ball", "blue" }, vocabulary.Words);
        Assert.Equal(new long[] { 2, 1, 3, 0, 0 }, vocabulary.Encode("Red green cube", 5));
        Assert.Equal(new long[] { 1, 0 }, vocabulary.Encode("42 !", 2));
        Assert.Equal(new long[] { 2, 3 }, vocabulary.Encode("red cube ball", 2));
        Assert.Throws<GroundSharpException>(() => new RecVocabulary(["red", "<unk>"]));
    }

    [Fact]
    public void GloveFileFillsKnownWordsAndReportsCoverage()
    {
        var vocabulary = RecVocabulary.Build(["red cube", "blue ball"]);
        using var encoder = new LanguageEncoder(new LanguageConfig { VocabSize = vocabulary.Count, WordDim = 3, Hidden = 4, Heads = 2 });
        var unknownBefore = encoder.embedding.weight![vocabulary.IdOf("ball")].data<float>().ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"gs-glove-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllLines(path, ["red 0.1 0.2 0.3", "sky 1 1 1", "cube -1 0.5 2e-1", "blue 3 2 1"]);
            var coverage = GloveEmbeddings.LoadInto(encoder.embedding, vocabulary, path);
            Assert.Equal(new GloveCoverage(3, 4), coverage);
            Assert.Equal(0.75, coverage.Fraction);
            Assert.Equal(new[] { 0.1f, 0.2f, 0.3f }, encoder.embedding.weight[vocabulary.IdOf("red")].data<float>().ToArray());
            Assert.Equal(new[] { -1f, 0.5f, 0.2f }, encoder.embedding.weight[vocabulary.IdOf("cube")].data<float>().ToArray());
            Assert.Equal(unknownBefore, encoder.embedding.weight[vocabulary.IdOf("ball")].data<float>().ToArray());

            File.WriteAllLines(path, ["red 0.1 0.2 0.3", "cube 1 2"]);
            var e = Assert.Throws<GroundSharpException>(() => GloveEmbeddings.LoadInto(encoder.embedding, vocabulary, path));
            Assert.Contains(path, e.Message);
            Assert.Contains("line 2", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SentenceVectorIgnoresPadding()
    {
        // A forward-only GRU reads real words before any padding, and padding is masked afterwards.
        var vocabulary = RecVocabulary.Build(["red cube on the left"]);
        using var encoder = new LanguageEncoder(new LanguageConfig { VocabSize = vocabulary.Count, WordDim = 6, Hidden = 8, Heads = 2, Bidirectional = false, SelfAttentionLayers = 2 });
        SeededInitForTests(encoder);
        encoder.eval();
        using var shortIds = vocabulary.EncodeBatch(["red cube"], 3);
        using var longIds = vocabulary.EncodeBatch(["red cube"], 7);
        using var a = encoder.Forward(shortIds);
        using var b = encoder.Forward(longIds);
        Assert.Equal(new long[] { 1, 8 }, a.Sentence.shape);
        Assert.Equal(new long[] { 1, 7, 8 }, b.Words.shape);
        Assert.True(a.Sentence.allclose(b.Sentence, rtol: 1e-5, atol: 1e-6));
    }

    private static void SeededInitForTests(nn.Module module)
    {
        using var _ = no_grad();
        using var generator = new Generator(3);
        foreach (var p in module.parameters()) { using var r = randn(p.shape, generator: generator); p.copy_(r * 0.5); }
    }

    [Fact]
    public void ForwardGivesNormalisedEmbeddingsOfTheTopKAnchors()
    {
        using var model = TinyRecModel.Create();
        using var images = rand(3, 3, 64, 64);
        using var visual = model.EncodeImages(images);
        Assert.Equal(new long[] { 3, 4 }, visual.Cells.shape);
        Assert.Equal(new long[] { 3, 4, 4 }, visual.Boxes.shape);
        var objectness = visual.Objectness.data<float>().ToArray();
        for (int i = 0; i < 3; i++)
            for (int k = 1; k < 4; k++)
                Assert.True(objectness[i * 4 + k - 1] >= objectness[i * 4 + k]);
        using var ids = model.Vocabulary.EncodeBatch(TinyRecModel.Texts.Take(3).ToList(), 6);
        using var embeddings = model.Embed(visual, ids);
        Assert.Equal(new long[] { 3, 4, 8 }, embeddings.Anchors.shape);
        Assert.Equal(new long[] { 3, 8 }, embeddings.Texts.shape);
        using var norms = embeddings.Anchors.norm(-1);
        Assert.True(norms.allclose(ones_like(norms), atol: 1e-5));
    }

    [Fact]
    public void QueryConditionedLossScoresAPositiveAndItsNegativesUnderTheSameText()
    {
        using var model = new RecModel(TinyRecModel.Config() with { TextConditioning = RecTextConditioning.Query, CmaLayers = 2 },
            RecVocabulary.Build(TinyRecModel.Texts), seed: 5);
        using (no_grad()) foreach (var gate in model.cma!.Gates) gate.fill_(0.7); // open gates: the anchors depend on the text
        model.eval();
        using var images = rand(3, 3, 64, 64, generator: new Generator(2));
        using var visual = model.EncodeImages(images);
        var texts = TinyRecModel.Texts.Take(3).ToList();
        const double tau = 0.1;

        // Each (text t, image j) alone: image j's anchors conditioned on text t, and the text's embedding.
        var sims = new double[3, 3][];
        for (int t = 0; t < 3; t++)
            for (int j = 0; j < 3; j++)
            {
                using var one = visual.Select([j]);
                using var ids = model.Vocabulary.EncodeBatch([texts[t]], model.Config.Language.MaxLength);
                using var e = model.Embed(one, ids);
                using var sim = (e.Anchors[0] * e.Texts[0]).sum(-1).to_type(ScalarType.Float64);
                sims[t, j] = sim.data<double>().ToArray();
            }
        double expected = 0;
        for (int t = 0; t < 3; t++)
        {
            double positive = sims[t, t].Max();
            double denominator = Math.Exp(positive / tau);
            for (int j = 0; j < 3; j++)
                if (j != t) denominator += sims[t, j].Sum(x => Math.Exp(x / tau));
            expected += -(positive / tau - Math.Log(denominator));
        }
        using var terms = model.Loss(visual, texts);
        Assert.Equal(expected / 3, terms.Contrastive.item<float>(), 4);

        using var ownIds = model.Vocabulary.EncodeBatch(texts, model.Config.Language.MaxLength);
        using var all = model.Embed(visual, ownIds, allPairs: true);
        using var diagonal = model.Embed(visual, ownIds);
        Assert.Equal(new long[] { 3, 3, 4, 8 }, all.Anchors.shape);
        for (int i = 0; i < 3; i++) Assert.True(all.Anchors[i, i].allclose(diagonal.Anchors[i], rtol: 1e-4, atol: 1e-6));
        // Another text changes another image's anchors: the negatives really are conditioned on the query.
        Assert.False(all.Anchors[0, 1].allclose(all.Anchors[2, 1], rtol: 1e-4, atol: 1e-6));
    }

    [Fact]
    public void AnchorPositionAddsTheBoxGeometryAndSurvivesSaveAndLoad()
    {
        using var boxes = tensor(new float[] { 0, 0, 32, 16, 16, 32, 80, 64 }).view(1, 2, 4); // input size 64; the second box overhangs
        using var geometry = RecModel.AnchorGeometry(boxes, 64);
        Assert.Equal(new float[] { 0, 0, 0.5f, 0.25f, 0.125f, 0.25f, 0.5f, 1, 1, 0.375f }, geometry.data<float>().ToArray());

        var path = Path.Combine(Path.GetTempPath(), $"gs-rec-position-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var images = rand(2, 3, 64, 64, generator: new Generator(3));
            var texts = TinyRecModel.Texts.Take(2).ToList();
            using var model = new RecModel(TinyRecModel.Config() with { AnchorPosition = true }, RecVocabulary.Build(TinyRecModel.Texts), seed: 5);
            using var plain = new RecModel(TinyRecModel.Config(), RecVocabulary.Build(TinyRecModel.Texts), seed: 5);
            Assert.NotNull(model.position_proj);
            Assert.Null(plain.position_proj);
            using var visual = model.EncodeImages(images);
            using var withPosition = model.Similarities(visual, texts);
            using var without = plain.Similarities(visual, texts);
            Assert.False(withPosition.allclose(without, rtol: 1e-4, atol: 1e-6)); // same seeds: only the geometry differs
            model.Save(path);
            using var loaded = RecModel.Load(path);
            Assert.True(loaded.Config.AnchorPosition);
            using var again = loaded.Similarities(loaded.EncodeImages(images), texts);
            Assert.True(again.allclose(withPosition, rtol: 1e-5, atol: 1e-6));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ACheckpointWithoutTextConditioningLoadsAsOwnText()
    {
        // Query conditioning is the default; checkpoints from before it were trained with their own text and keep it.
        Assert.Equal(RecTextConditioning.Query, new RecConfig().TextConditioning);
        var path = Path.Combine(Path.GetTempPath(), $"gs-rec-legacy-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var model = TinyRecModel.Create())
            {
                var sd = model.state_dict();
                var node = System.Text.Json.Nodes.JsonNode.Parse(RecJson.Serialize(model.Config))!.AsObject();
                node.Remove("text_conditioning");
                var json = node.ToJsonString();
                Assert.DoesNotContain("text_conditioning", json);
                GroundSharp.IO.SafeTensors.Save(path, sd, new Dictionary<string, string>
                {
                    [RecModel.ConfigMetadataKey] = json,
                    [RecModel.VocabularyMetadataKey] = System.Text.Json.JsonSerializer.Serialize(model.Vocabulary.Words),
                });
            }
            using var loaded = RecModel.Load(path);
            Assert.Equal(RecTextConditioning.OwnText, loaded.Config.TextConditioning);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OwnTextLossEqualsTheAnchorFormula()
    {
        // The similarity cube of own-text conditioning is texts × anchors of every image: Eq. 6/7's S from it is A·Tᵀ.
        using var model = new RecModel(TinyRecModel.Config() with { TextConditioning = RecTextConditioning.OwnText }, RecVocabulary.Build(TinyRecModel.Texts), seed: 11);
        model.eval();
        using var images = rand(3, 3, 64, 64, generator: new Generator(4));
        using var visual = model.EncodeImages(images);
        var texts = TinyRecModel.Texts.Take(3).ToList();
        using var ids = model.Vocabulary.EncodeBatch(texts, model.Config.Language.MaxLength);
        using var e = model.Embed(visual, ids, allPairs: true);
        Assert.Equal(3, e.Anchors.dim());
        using var terms = model.Loss(visual, texts);
        using var matched = RecLoss.MatchedAnchors(e.Anchors, terms.PositiveIndex);
        using var s = matched.matmul(e.Texts.t());
        using var reg = RecLoss.Regularisation(s, model.Config.Loss.Margin);
        Assert.Equal(reg.item<float>(), terms.Regularisation.item<float>(), 5);
    }

    [Fact]
    public void BaselineHasNoCmaAndTheDetectorIsFrozen()
    {
        using var baseline = TinyRecModel.Create(useCma: false);
        Assert.Null(baseline.cma);
        Assert.DoesNotContain(baseline.state_dict().Keys, k => k.StartsWith("cma."));
        Assert.All(baseline.detector.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(baseline.named_parameters().Where(p => p.parameter.requires_grad), p => Assert.False(p.name.StartsWith("detector.")));
        Assert.Equal(baseline.named_parameters().Count(p => !p.name.StartsWith("detector.")), baseline.TrainableParameters().Count);
        using var full = TinyRecModel.Create();
        Assert.Contains(full.state_dict().Keys, k => k == "cma.layers.0.attn_gate");
        Assert.Contains(full.state_dict().Keys, k => k == "loss.log_lambda");
    }

    [Fact]
    public void GivenDetectorIsCopiedIntoTheModel()
    {
        using var detector = new YoloV3(TinyRec.Detector(), seed: 42);
        using var model = new RecModel(TinyRecModel.Config(), RecVocabulary.Build(TinyRecModel.Texts), detector, seed: 1);
        Assert.True(model.detector.head16.output.weight!.equal(detector.head16.output.weight!).all().item<bool>());
        Assert.True(model.detector.backbone.stem.bn.running_var!.equal(detector.backbone.stem.bn.running_var!).all().item<bool>());
    }

    [Fact]
    public void TrainingSmokeRunLowersTheLossMovesGatesAndLambdasAndKeepsTheDetector()
    {
        using var model = TinyRecModel.Create();
        using var images = rand(new long[] { 6, 3, 64, 64 }, generator: new Generator(5));
        var data = new RecTrainingData(images, TinyRecModel.Texts.Select((t, i) => new RecExpression(i, t)).ToList());
        var detectorBefore = model.detector.head32.output.weight!.clone();
        var steps = RecTrainer.Train(model, data, new RecTrainingOptions { Epochs = 12, BatchSize = 6, LearningRate = 1e-2 });
        Assert.Equal(12, steps.Count);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss)));
        Assert.All(steps, s => Assert.True(s.EndOfEpoch, "one batch per epoch: every step ends its epoch"));
        Assert.True(steps[^1].Contrastive < steps[0].Contrastive, $"contrastive loss {steps[0].Contrastive} → {steps[^1].Contrastive}");
        Assert.NotEqual(1.0, steps[^1].Lambda);
        Assert.NotEqual(1.0, steps[^1].LambdaPrime);
        Assert.All(model.cma!.Gates, g => Assert.NotEqual(0f, g.item<float>()));
        Assert.True(model.detector.head32.output.weight!.equal(detectorBefore).all().item<bool>());
        Assert.False(model.training);
        Assert.False(model.detector.training);
    }

    [Fact]
    public void TrainingMarksTheLastStepOfEachEpoch()
    {
        using var model = TinyRecModel.Create();
        using var images = rand(new long[] { 6, 3, 64, 64 }, generator: new Generator(5));
        var data = new RecTrainingData(images, TinyRecModel.Texts.Take(6).Select((t, i) => new RecExpression(i, t)).ToList());
        var steps = RecTrainer.Train(model, data, new RecTrainingOptions { Epochs = 2, BatchSize = 2, LearningRate = 1e-3 });
        Assert.Equal(6, steps.Count);
        Assert.Equal(new[] { 2, 5 }, steps.Where(s => s.EndOfEpoch).Select(s => s.Step));
        Assert.Equal(new[] { 0, 1 }, steps.Where(s => s.EndOfEpoch).Select(s => s.Epoch));
    }

    [Fact]
    public void BatchesNeverRepeatAnImage()
    {
        var expressions = new[] { new RecExpression(0, "a"), new RecExpression(0, "b"), new RecExpression(1, "c"), new RecExpression(2, "d"), new RecExpression(0, "e") };
        var batches = RecTrainer.Batches(expressions, 2, new Random(1));
        Assert.Equal(5, batches.Sum(b => b.Count));
        Assert.All(batches, b => Assert.Equal(b.Count, b.Select(e => e.ImageIndex).Distinct().Count()));
        Assert.All(batches, b => Assert.True(b.Count <= 2));
    }

    [Fact]
    public void EvaluationCountsIouAtHalfPerSplitAndSaveLoadKeepsPredictions()
    {
        using var model = TinyRecModel.Create();
        using var images = rand(new long[] { 3, 3, 64, 64 }, generator: new Generator(8));
        var texts = TinyRecModel.Texts.Take(3).ToList();
        var predicted = model.Predict(images, texts);
        var far = new Box(1000, 1000, 1010, 1010);
        var items = new List<RecEvalItem>
        {
            new(0, texts[0], predicted[0].Box, "val"),
            new(1, texts[1], far, "val"),
            new(2, texts[2], predicted[2].Box, "test"),
        };
        var result = RecEvaluation.Evaluate(model, images, items, batchSize: 2);
        Assert.Equal(new HitCount(1, 2), result.Accuracy.Split("val"));
        Assert.Equal(new HitCount(1, 1), result.Accuracy.Split("test"));
        // Batches of 2 and 1 here against one batch of 3 above: same anchors, boxes equal up to float rounding.
        Assert.Equal(predicted.Select(p => p.AnchorRank), result.Predictions.Select(p => p.AnchorRank));
        Assert.All(predicted.Zip(result.Predictions), pair => Assert.True(Nms.ContinuousIou(pair.First.Box, pair.Second.Box) > 0.9999));

        var path = Path.Combine(Path.GetTempPath(), $"gs-rec-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using var loaded = RecModel.Load(path);
            Assert.Equal(model.Vocabulary.Words, loaded.Vocabulary.Words);
            Assert.Equal(model.Config.TopK, loaded.Config.TopK);
            Assert.Equal(predicted, loaded.Predict(images, texts));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadConfigsAndCheckpointsGiveClearErrors()
    {
        var e = Assert.Throws<GroundSharpException>(() => new RecModel(TinyRecModel.Config() with { GridScale = 3 }, RecVocabulary.Build(["a"])));
        Assert.Contains("grid_scale", e.Message);
        var path = Path.Combine(Path.GetTempPath(), $"gs-rec-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var detector = new YoloV3(TinyRec.Detector(), seed: 1)) detector.Save(path);
            var notRec = Assert.Throws<GroundSharpException>(() => RecModel.Load(path));
            Assert.Contains("not a GroundSharp REC checkpoint", notRec.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class RecModelSeedTests
{
    [Fact]
    public void SameSeed_GivesTheSameWeights_WhateverTheGlobalGeneratorHolds()
    {
        TorchSharp.torch.manual_seed(1);
        using var a = TinyRecModel.Create();
        TorchSharp.torch.manual_seed(2);
        using var b = TinyRecModel.Create();
        var other = b.state_dict();
        var differing = a.state_dict().Where(p => !p.Value.equal(other[p.Key]).all().item<bool>()).Select(p => p.Key).ToList();
        Assert.True(differing.Count == 0, "weights drawn from the global generator: " + string.Join(", ", differing));
    }
}
