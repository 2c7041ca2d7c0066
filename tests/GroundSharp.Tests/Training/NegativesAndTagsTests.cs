using GroundSharp.Data;
using GroundSharp.Models;
using GroundSharp.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Training;

[Collection(TrainingCollection.Name)]
public class NegativesAndTagsTests
{
    private static readonly GroundingSample[] Said =
    {
        new("a.png", "a red star, a small blue circle and a green square on a noisy background", null),
        new("b.png", "a yellow star on a cluttered background", null),
        new("b.png", "the yellow star on the left", null),
    };

    [Fact]
    public void NegativeFilter_ATextFitsAnImageWhenEveryContentWordIsSaidOfIt()
    {
        var filter = new NegativeFilter(Said);
        Assert.True(filter.Fits("the star", "a.png"));
        Assert.True(filter.Fits("the red star", "a.png"));
        Assert.True(filter.Fits("The Blue circle.", "a.png"));               // ALBEF's caption cleaning first
        Assert.False(filter.Fits("the yellow star", "a.png"));
        Assert.True(filter.Fits("the yellow star", "b.png"));
        Assert.False(filter.Fits("the red star", "b.png"));
        // Only position and function words: true of any image, never a negative.
        Assert.True(filter.Fits("the leftmost object", "a.png"));
        Assert.True(filter.Fits("the star above the square", "a.png"));
        Assert.False(filter.Fits("the star above the hexagon", "a.png"));
        Assert.False(filter.Fits("the star", "unknown.png"));
        Assert.Equal(new[] { "red", "star" }, NegativeFilter.ContentWords("the red star on the right"));
    }

    [Fact]
    public void NegativeFilter_MatrixMarksFittingOffDiagonalPairs()
    {
        var filter = new NegativeFilter(Said);
        AugmentedSample Item(GroundingSample s) => new(Array.Empty<float>(), Array.Empty<float>(), s.Text, false, null, false, 1, s);
        var items = new[] { Item(Said[0]), Item(new GroundingSample("b.png", "the star", null)), Item(new GroundingSample("a.png", "the yellow star", null)) };
        var m = filter.Matrix(items);
        Assert.False(m[0, 0]);
        Assert.True(m[0, 1]);   // "the star" is true of a.png
        Assert.False(m[0, 2]);  // "the yellow star" is not
        Assert.False(m[1, 0]);  // a.png's caption is not true of b.png
        Assert.True(m[1, 2]);   // "the yellow star" is true of b.png
        Assert.True(m[2, 1]);
    }

    [Fact]
    public void WordSwap_ReplacesOneClassWordByOneNotSaidOfTheImage()
    {
        var swaps = new WordSwapNegatives(WordSwapNegatives.SyntheticClasses, new NegativeFilter(Said));
        var rng = new Random(7);
        var seen = new HashSet<string>();
        for (int trial = 0; trial < 300; trial++)
        {
            var swapped = swaps.Swap("The red star on the left.", "a.png", rng)!;
            var words = swapped.Split(' ');
            var original = new[] { "the", "red", "star", "on", "the", "left" };
            Assert.Equal(original.Length, words.Length);
            var changed = Enumerable.Range(0, words.Length).Where(i => words[i] != original[i]).ToArray();
            Assert.Single(changed);
            Assert.Contains(changed[0], new[] { 1, 2 });               // a colour or the shape; "left" is in no class
            Assert.False(new NegativeFilter(Said).Fits(swapped, "a.png")); // the new word is said nowhere about a.png
            Assert.DoesNotContain(words[changed[0]], new[] { "blue", "green", "circle", "square" });
            seen.Add(swapped);
        }
        Assert.Contains("the black star on the left", seen);
        Assert.Contains("the red hexagon on the left", seen);
        // Nothing to swap, or every other word of the class said of the image: no negative.
        Assert.Null(swaps.Swap("the leftmost object", "a.png", rng));
        var tiny = new WordSwapNegatives(new[] { new[] { "red", "blue" } }, new NegativeFilter(Said));
        Assert.Null(tiny.Swap("the blue circle", "a.png", rng));
        Assert.Equal("the blue star", tiny.Swap("the red star", "b.png", rng));
    }

    [Fact]
    public void WordSwap_ClassesMustHoldTwoWordsEachAndNotOverlap()
    {
        var filter = new NegativeFilter(Said);
        Assert.Contains("needs at least two words", Assert.Throws<GroundSharpException>(() => new WordSwapNegatives(new[] { new[] { "red" } }, filter)).Message);
        Assert.Contains("\"red\" is in two classes", Assert.Throws<GroundSharpException>(() => new WordSwapNegatives(new[] { new[] { "red", "blue" }, new[] { "Red", "star" } }, filter)).Message);
    }

    [Fact]
    public void Collate_TokenisesSwappedNegativesToTheBatchLength()
    {
        var samples = TinyTraining.Samples(4);
        var filter = new NegativeFilter(samples.Select(s => s.Origin!));
        var swaps = new WordSwapNegatives(new[] { TinyTraining.Colours.Select(c => c.Name).ToArray() }, filter);
        using var batch = BatchCollator.Collate(samples, TinyTraining.Tokenizer, TinyTraining.Config, null, swaps: (swaps, 1.0, new Random(1)));
        var swapped = batch.SwappedNegatives!;
        Assert.Equal(new[] { 0, 1, 2, 3 }, swapped.Items);
        Assert.Equal(batch.InputIds.shape[1], swapped.InputIds.shape[1]);
        Assert.NotEqual(batch.InputIds.data<long>().ToArray(), swapped.InputIds.data<long>().ToArray());
        using var none = BatchCollator.Collate(samples, TinyTraining.Tokenizer, TinyTraining.Config, null, swaps: (swaps, 0.0, new Random(1)));
        Assert.Null(none.SwappedNegatives);
    }

    [Fact]
    public void HardNegatives_NeverDrawAnExcludedPair_AndFallBackWhenAllAre()
    {
        int b = 4;
        using var s = zeros(b, b);
        var excluded = new bool[b, b];
        excluded[0, 1] = excluded[0, 2] = true;           // row 0: only column 3 is left
        excluded[1, 0] = excluded[1, 2] = excluded[1, 3] = true; // row 1: nothing left -> any other column
        using var gen = new Generator(3);
        var seen1 = new HashSet<long>();
        foreach (var fraction in new[] { 0.0, 0.5, 1.0 })
            for (int trial = 0; trial < 200; trial++)
            {
                var picks = HardNegatives.Sample(s, gen, fraction, excluded);
                Assert.Equal(3, picks[0]);
                Assert.NotEqual(1, picks[1]);
                seen1.Add(picks[1]);
                Assert.NotEqual(2, picks[2]);
                Assert.NotEqual(3, picks[3]);
            }
        Assert.Equal(new long[] { 0, 2, 3 }, seen1.Order());
    }

    [Fact]
    public void SampleFile_ReadsAndWritesTags_AndRejectsMalformedOnes()
    {
        var s = GroundingSampleFile.Parse("""{"image":"x.png","text":"a red star","tags":["red","star","red"]}""", "/data", "f:1");
        Assert.Equal(new[] { "red", "star" }, s.Tags);
        Assert.Contains("\"tags\":[\"red\",\"star\"]", GroundingSampleFile.ToJsonLine(s));
        Assert.Null(GroundingSampleFile.Parse("""{"image":"x.png","text":"t"}""", "/data", "f:2").Tags);
        var e = Assert.Throws<GroundSharpException>(() => GroundingSampleFile.Parse("""{"image":"x.png","text":"t","tags":"red"}""", "/data", "f:3"));
        Assert.Contains("f:3", e.Message);
        Assert.Throws<GroundSharpException>(() => GroundingSampleFile.Parse("""{"image":"x.png","text":"t","tags":["red", 3]}""", "/data", "f:4"));
    }

    [Theory]
    [InlineData(PatchStem.Linear)]
    [InlineData(PatchStem.Conv)] // the from-scratch stem learns through the same objective
    public void TagObjective_TrainsTheVisualEncoderOnly_AndItsLossFalls(PatchStem stem)
    {
        var config = TinyTraining.Config with { PatchStem = stem };
        var vocab = new TagVocabulary(new[] { "red", "green", "blue", "yellow" });
        var aug = new TripletAugmenter(TinyTraining.Config.ImageRes, AugmentationOptions.None);
        var rng = new Random(1);
        var samples = Enumerable.Range(0, 8).Select(i =>
        {
            int colour = i % 4;
            var image = TinyTraining.Scene(colour, 4 + i, 6, 16);
            return aug.Augment(image, new GroundingSample("mem", "a square", null, Tags: new[] { TinyTraining.Colours[colour].Name }), rng);
        }).ToList();
        Assert.Equal(new[] { "blue", "green", "red", "yellow" }, vocab.Tags);
        Assert.Equal(new float[] { 0, 0, 1, 0, 0, 1, 0, 0 }, vocab.MultiHot(samples).Take(8).ToArray()); // red, then green

        torch.manual_seed(1);
        using var pre = new AlbefPretrainer(new AlbefModel(config, 1), 1, vocab.Count);
        var tagsOnly = new ObjectiveSwitches { Itc = false, Itm = false, Mlm = false, Amc = false, Tags = true };
        var parameters = Trainer.UniqueTrainableParameters(pre.Model).Concat(pre.ExtraParameters).Select(p => p.Parameter).ToList();
        using var batch = BatchCollator.Collate(samples, TinyTraining.Tokenizer, TinyTraining.Config, null, vocab);
        var textBefore = pre.Model.text_proj.weight!.clone();
        var (first, last) = TrainOnOneBatch(pre, parameters, batch, tagsOnly, "tags", 30, absent: "itc");
        Assert.True(last < 0.5 * first, $"tag loss {first} -> {last}");
        Assert.True(pre.Model.text_proj.weight!.allclose(textBefore, rtol: 0, atol: 0), "the text side has no gradient in the tag stage");
        var sd = pre.StateDict();
        Assert.Equal(new long[] { vocab.Count, TinyTraining.Config.VisionWidth }, sd[AlbefPretrainer.TagHeadPrefix + "weight"].shape);
        // A model without a tag head ignores it (a training-only entry), as the next stage does.
        using var next = new AlbefModel(config, 2);
        var report = AlbefWeights.Load(next, sd, strict: true, "tags stage");
        Assert.Contains(AlbefPretrainer.TagHeadPrefix + "weight", report.IgnoredTrainingOnly);
        foreach (var t in sd.Values) t.Dispose();
    }

    [Fact]
    public void TagMatching_PairsEachOwnTagWithAnAbsentOneWordAway()
    {
        var vocab = new TagVocabulary(new[] { "red", "blue", "star", "square", "red star", "blue square", "red square", "blue star", "green", "green star", "yellow", "circle" });
        var matching = new TagMatching(vocab, 4);
        var image = new[] { "red", "blue", "star", "square", "red star", "blue square" };
        var negativesSeen = new HashSet<string>();
        for (int trial = 0; trial < 100; trial++)
        {
            var pairs = matching.Draw(new IReadOnlyList<string>?[] { null, image, Array.Empty<string>() }, new Random(trial));
            Assert.Equal(4, pairs.Count);
            Assert.All(pairs, p => Assert.Equal(1, p.Item)); // items without tags get none
            for (int i = 0; i < pairs.Count; i += 2)
            {
                Assert.True(pairs[i].Present);
                Assert.False(pairs[i + 1].Present);
                var positive = pairs[i].Text["the ".Length..].Split(' ');
                var negative = pairs[i + 1].Text["the ".Length..].Split(' ');
                Assert.Contains(string.Join(' ', positive), image);
                Assert.DoesNotContain(string.Join(' ', negative), image);
                // Same length (the text alone cannot tell them apart), one word swapped.
                Assert.Equal(positive.Length, negative.Length);
                Assert.Equal(positive.Length - 1, positive.Zip(negative).Count(w => w.First == w.Second));
                negativesSeen.Add(pairs[i + 1].Text);
            }
            Assert.Equal(2, pairs.Where(p => !p.Present).Select(p => p.Text).Distinct().Count());
        }
        Assert.Equal(new[] { "the blue star", "the circle", "the green", "the green star", "the red square", "the yellow" }, negativesSeen.Order());
        // An image with every tag has no negative to draw, so no pair.
        Assert.Empty(matching.Draw(new IReadOnlyList<string>?[] { vocab.Tags }, new Random(1)));
        Assert.Contains("must be an even number", Assert.Throws<GroundSharpException>(() => new TagMatching(vocab, 3)).Message);
    }

    [Fact]
    public void TagItmObjective_LearnsWhichTagsAnImageHas_AndLeavesTheTagHeadAlone()
    {
        var vocab = new TagVocabulary(TinyTraining.Colours.Select(c => c.Name));
        var aug = new TripletAugmenter(TinyTraining.Config.ImageRes, AugmentationOptions.None);
        var rng = new Random(1);
        var samples = Enumerable.Range(0, 8).Select(i =>
        {
            int colour = i % 4;
            return aug.Augment(TinyTraining.Scene(colour, 4 + i, 6, 16), new GroundingSample("mem", "a square", null, Tags: new[] { TinyTraining.Colours[colour].Name }), rng);
        }).ToList();
        using var batch = BatchCollator.Collate(samples, TinyTraining.Tokenizer, TinyTraining.Config, null, tagMatching: (new TagMatching(vocab, 2), new Random(3)));
        var texts = batch.TagTexts!;
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7 }, texts.Items);
        Assert.Equal(new long[] { 1, 0 }, texts.Labels!.data<long>().Take(2).ToArray());
        Assert.Equal(4, texts.InputIds.shape[1]); // [CLS] the <colour> [SEP]: its own pad length, not the captions'

        torch.manual_seed(1);
        using var pre = new AlbefPretrainer(new AlbefModel(TinyTraining.Config with { QueueSize = 0 }, 1), 1);
        Assert.Null(pre.TagHead);
        var only = new ObjectiveSwitches { Itc = false, Itm = false, Mlm = false, Amc = false, TagItm = true };
        var (first, last) = TrainOnOneBatch(pre, Trainer.UniqueTrainableParameters(pre.Model).Select(p => p.Parameter).ToList(), batch, only, "tag_itm", 100, absent: "itm");
        Assert.InRange(first, 0.55, 0.85); // balanced labels: ln 2 at the start
        Assert.True(last < 0.5 * first, $"tag ITM loss {first} -> {last}");
    }

    /// <summary>AdamW at 3e-3 on one fixed batch: the named loss at the first and the last step; the loss <paramref name="absent"/> must not be computed.</summary>
    private static (double First, double Last) TrainOnOneBatch(AlbefPretrainer pre, IList<TorchSharp.Modules.Parameter> parameters, PretrainBatch batch, ObjectiveSwitches objectives,
        string loss, int steps, string absent)
    {
        using var opt = optim.AdamW(parameters, 3e-3);
        double first = 0, last = 0;
        for (int step = 0; step < steps; step++)
        {
            opt.zero_grad();
            using var losses = pre.ComputeLosses(batch, 0, objectives, new(), TinyTraining.MlmTokens);
            var values = losses.ToValues();
            Assert.False(values.ContainsKey(absent));
            losses.Total.backward();
            opt.step();
            last = values[loss];
            if (step == 0) first = last;
        }
        return (first, last);
    }
}
