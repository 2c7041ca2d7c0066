using GroundSharp.Losses;
using GroundSharp.Models;
using GroundSharp.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Training;

[Collection(TrainingCollection.Name)]
public class ObjectiveTests
{
    private static AlbefPretrainer NewPretrainer(long seed = 11) => new(new AlbefModel(TinyTraining.Config, seed), seed);

    [Fact]
    public void MlmMasking_Chooses15Percent_80_10_10_AndNeverSpecialTokens()
    {
        var tokens = new MlmTokens(VocabSize: 1000, PadId: 0, ClsId: 101, SepId: 102, MaskId: 103);
        int rows = 400, len = 32;
        var ids = new long[rows * len];
        var rng = new Random(1);
        for (int r = 0; r < rows; r++)
        {
            int realLength = 10 + rng.Next(20);
            for (int t = 0; t < len; t++)
                ids[r * len + t] = t == 0 ? 101 : t == realLength - 1 ? 102 : t >= realLength ? 0 : 200 + rng.Next(700);
        }
        using var input = tensor(ids, new long[] { rows, len });
        using var gen = new Generator(5);
        using var masked = MlmMasking.Mask(input, tokens, 0.15, gen);
        var outIds = masked.InputIds.data<long>().ToArray();
        var labels = masked.Labels.data<long>().ToArray();

        int eligible = 0, chosen = 0, toMask = 0, kept = 0, changed = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            bool special = ids[i] is 0 or 101 or 102;
            if (special)
            {
                Assert.Equal(MlmMasking.IgnoreIndex, labels[i]);
                Assert.Equal(ids[i], outIds[i]);
                continue;
            }
            eligible++;
            if (labels[i] == MlmMasking.IgnoreIndex) { Assert.Equal(ids[i], outIds[i]); continue; }
            Assert.Equal(ids[i], labels[i]);
            chosen++;
            if (outIds[i] == 103) toMask++;
            else if (outIds[i] == ids[i]) kept++;
            else changed++;
        }
        double p = (double)chosen / eligible;
        Assert.InRange(p, 0.13, 0.17);
        Assert.InRange((double)toMask / chosen, 0.76, 0.84);
        Assert.InRange((double)changed / chosen, 0.07, 0.13);
        Assert.InRange((double)kept / chosen, 0.07, 0.13);
    }

    [Fact]
    public void HardNegatives_NeverPickThePositive_AndFollowSimilarity()
    {
        int b = 5;
        using var gen = new Generator(9);
        // Row i is most similar to itself, then strongly to column (i+1) % b.
        var sim = new float[b * b];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
                sim[i * b + j] = i == j ? 20f : j == (i + 1) % b ? 5f : 0f;
        using var s = tensor(sim, new long[] { b, b });
        var counts = new int[b, b];
        for (int trial = 0; trial < 300; trial++)
        {
            var picks = HardNegatives.Sample(s, gen);
            for (int i = 0; i < b; i++)
            {
                Assert.NotEqual(i, (int)picks[i]);
                counts[i, picks[i]]++;
            }
        }
        for (int i = 0; i < b; i++) Assert.True(counts[i, (i + 1) % b] > 250, $"row {i}: the most similar negative was picked {counts[i, (i + 1) % b]} of 300 times");

        using var random = randn(new long[] { 8, 8 }, generator: gen);
        for (int trial = 0; trial < 50; trial++)
        {
            var picks = HardNegatives.Sample(random * 10, gen);
            for (int i = 0; i < 8; i++) Assert.NotEqual(i, (int)picks[i]);
        }
    }

    [Fact]
    public void HardNegatives_RandomFraction_SpreadsThatShareOfTheMassUniformly()
    {
        int b = 5, trials = 400;
        // Row i: a near-certain hard negative at (i+1) % b.
        var sim = new float[b * b];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
                sim[i * b + j] = i == j ? 20f : j == (i + 1) % b ? 15f : 0f;
        using var s = tensor(sim, new long[] { b, b });
        int[,] Count(double fraction, Generator gen)
        {
            var counts = new int[b, b];
            for (int trial = 0; trial < trials; trial++)
            {
                var picks = HardNegatives.Sample(s, gen, fraction);
                for (int i = 0; i < b; i++) { Assert.NotEqual(i, (int)picks[i]); counts[i, picks[i]]++; }
            }
            return counts;
        }
        using var gen = new Generator(5);
        var hard = Count(0, gen);
        var uniform = Count(1, gen);
        var half = Count(0.5, gen);
        for (int i = 0; i < b; i++)
        {
            int peak = (i + 1) % b;
            Assert.True(hard[i, peak] >= trials - 2, $"row {i}: ALBEF's weights pick the hard negative ({hard[i, peak]})");
            // Uniform over the 4 other columns: 100 expected each; half: 0.5 + 0.5/4 = 62.5 % on the peak.
            for (int j = 0; j < b; j++)
                if (j != i) Assert.InRange(uniform[i, j], 60, 140);
            Assert.InRange(half[i, peak], 210, 290);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => HardNegatives.Sample(s, gen, 1.5));
    }

    [Fact]
    public void Queues_HaveShapeAndUnitColumns_AndStepEnqueuesTheBatch()
    {
        using var pre = NewPretrainer();
        var cfg = TinyTraining.Config;
        Assert.Equal(new long[] { cfg.EmbedDim, cfg.QueueSize }, pre.ImageQueue.shape);
        Assert.Equal(new long[] { cfg.EmbedDim, cfg.QueueSize }, pre.TextQueue.shape);
        using (var norms = pre.ImageQueue.norm(0))
            Assert.True(norms.sub(1).abs().max().ToDouble() < 1e-5);
        using var before = pre.TextQueue.clone();
        using var batch = TinyTraining.Batch(4, i => true);
        pre.Train();
        using var losses = pre.ComputeLosses(batch, alpha: 0.4, new ObjectiveSwitches(), new AmcLossOptions(), TinyTraining.MlmTokens, new Generator(1));
        Assert.Equal(4, pre.QueuePointer);
        using var changed = pre.TextQueue.ne(before).any(0);
        var changedColumns = changed.data<bool>().ToArray();
        Assert.All(changedColumns.Take(4), Assert.True);
        Assert.All(changedColumns.Skip(4), Assert.False);
        using (var norms = pre.TextQueue.narrow(1, 0, 4).norm(0))
            Assert.True(norms.sub(1).abs().max().ToDouble() < 1e-5);

        // Writing past the end wraps around to the first columns.
        using var features = F_normalize(randn(30, cfg.EmbedDim));
        pre.Enqueue(features, features);
        Assert.Equal((4 + 30) % cfg.QueueSize, pre.QueuePointer);
    }

    private static Tensor F_normalize(Tensor x) => nn.functional.normalize(x, dim: 1);

    [Fact]
    public void MomentumUpdate_MovesByOneMinusM()
    {
        using var pre = NewPretrainer();
        var (online, momentum, name) = pre.MomentumPairs.First(p => p.Name == "text_proj.weight");
        using (no_grad()) online.add_(1.0);
        using var oldMomentum = momentum.detach().clone();
        using var target = online.detach().clone();
        pre.MomentumUpdate();
        double m = TinyTraining.Config.Momentum;
        using var expected = oldMomentum + (1 - m) * (target - oldMomentum);
        Assert.True(momentum.allclose(expected, rtol: 0, atol: 1e-6), name);
        using var moved = momentum - oldMomentum;
        Assert.True(Math.Abs(moved.mean().ToDouble() - (1 - m)) < 1e-6);
        Assert.All(pre.Momentum.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void MixedBatch_OfCaptionOnlyAndBoxSamples_GivesAllLossesAndGradients()
    {
        using var pre = NewPretrainer();
        pre.Train();
        using var batch = TinyTraining.Batch(5, i => i % 2 == 0);
        using var losses = pre.ComputeLosses(batch, 0.4, new ObjectiveSwitches(), new AmcLossOptions(), TinyTraining.MlmTokens, new Generator(2));
        Assert.Equal(3, losses.AmcSamples);
        var values = losses.ToValues();
        foreach (var key in new[] { "loss", "itc", "itm", "mlm", "amc" })
            Assert.True(values.ContainsKey(key) && double.IsFinite(values[key]), key);
        Assert.Equal(values["itc"] + values["itm"] + values["mlm"] + values["amc"], values["loss"], 4);
        losses.Total.backward();
        var layer = pre.Model.Bert.Layer(pre.Config.EffectiveGradcamLayer).crossattention!.self.query.weight!;
        Assert.NotNull(layer.grad);
        Assert.True(layer.grad!.abs().sum().ToDouble() > 0);

        // No box in the batch: AMC is skipped, the rest still works.
        using var captions = TinyTraining.Batch(3, _ => false);
        using var noBox = pre.ComputeLosses(captions, 0.4, new ObjectiveSwitches(), new AmcLossOptions(), TinyTraining.MlmTokens, new Generator(2));
        Assert.Null(noBox.Amc);
        Assert.Equal(0, noBox.AmcSamples);
        Assert.True(double.IsFinite(noBox.ToValues()["loss"]));
    }

    [Fact]
    public void AmcTerm_CoversOnlyTheBoxSamples()
    {
        // The AMC loss of a mixed batch equals the AMC loss of its box samples alone (dropout off, same weights).
        using var pre = NewPretrainer();
        pre.Train(false);
        var amcOnly = new ObjectiveSwitches { Itc = false, Itm = false, Mlm = false, Amc = true };
        using var mixed = TinyTraining.Batch(4, i => i < 2, seed: 4);
        using var l1 = pre.ComputeLosses(mixed, 0.4, amcOnly, new AmcLossOptions(), TinyTraining.MlmTokens, new Generator(3));
        using var boxesOnly = TinyTraining.Batch(2, _ => true, seed: 4);
        using var l2 = pre.ComputeLosses(boxesOnly, 0.4, amcOnly, new AmcLossOptions(), TinyTraining.MlmTokens, new Generator(3));
        Assert.True(Math.Abs(l2.Amc!.ToDouble() - l1.Amc!.ToDouble()) < 1e-5, $"mixed {l1.Amc!.ToDouble()} vs boxes only {l2.Amc!.ToDouble()}");
        Assert.Equal(l1.Amc!.ToDouble(), l1.Total.ToDouble(), 6);
    }

    [Fact]
    public void StateDict_UsesTheCheckpointNames_AndLoadsTheFixtureMomentumAndQueues()
    {
        var config = Models.FixtureModel.Config with { QueueSize = 64 };
        using var pre = new AlbefPretrainer(new AlbefModel(config, 1), 1);
        var sd = Models.FixtureModel.StateDict();
        var report = pre.LoadStateDict(sd, strict: true, "checkpoint.pth");
        Assert.True(report.QueuesLoaded, report.Summary("fixture"));
        Assert.Equal(0, report.MomentumFromModel);
        Assert.True(report.MomentumLoaded > 50);
        using (var expected = sd["visual_encoder_m.blocks.0.attn.qkv.weight"])
            Assert.True(pre.Momentum.visual_encoder.blocks[0].attn.qkv.weight!.allclose(expected, rtol: 0, atol: 0));
        Assert.True(pre.ImageQueue.allclose(sd["image_queue"], rtol: 0, atol: 0));

        var ours = pre.StateDict();
        var fixtureKeys = FixtureData.Manifest.GetProperty("checkpoint").GetProperty("keys").EnumerateArray()
            .Select(k => k.GetProperty("key").GetString()!)
            .Where(k => !k.EndsWith("position_ids") && !k.EndsWith("predictions.decoder.bias"))
            .ToHashSet();
        Assert.Equal(fixtureKeys.OrderBy(k => k), ours.Keys.OrderBy(k => k));
        foreach (var t in sd.Values) t.Dispose();
        foreach (var t in ours.Values) t.Dispose();

        // A fresh pretrainer writes ALBEF's single pointer; a state dict without momentum copies initialises them from the model.
        using var fresh = NewPretrainer();
        var freshSd = fresh.StateDict();
        Assert.Contains("queue_ptr", freshSd.Keys);
        Assert.Contains("text_encoder_m.bert.embeddings.word_embeddings.weight", freshSd.Keys);
        Assert.Contains("text_encoder_m.cls.predictions.transform.dense.weight", freshSd.Keys);
        var modelOnly = freshSd.Where(kv => !kv.Key.Contains("_m.") && !kv.Key.Contains("queue")).ToDictionary(kv => kv.Key, kv => kv.Value);
        using var other = NewPretrainer(seed: 99);
        var r = other.LoadStateDict(modelOnly, strict: true, "model only");
        Assert.Equal(0, r.MomentumLoaded);
        Assert.False(r.QueuesLoaded);
        Assert.True(other.Momentum.text_proj.weight!.allclose(fresh.Model.text_proj.weight!, rtol: 0, atol: 0));
        foreach (var t in freshSd.Values) t.Dispose();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public class TrainingCollection
{
    public const string Name = "Training (global torch RNG)";
}
