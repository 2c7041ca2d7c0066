using GroundSharp.Models;
using GroundSharp.Training;
using GroundSharp.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Training;

/// <summary>Collects what the trainer reports.</summary>
internal sealed class RecordingReporter : ITrainingReporter
{
    public List<StepMetrics> Steps { get; } = new();
    public List<string> Messages { get; } = new();
    public void Started(int startStep, int totalSteps, string message) => Messages.Add(message);
    public void Stepped(StepMetrics metrics) => Steps.Add(metrics);
    public void Message(string message) => Messages.Add(message);
}

[Collection(TrainingCollection.Name)]
public class TrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "groundsharp-train-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    private TrainConfig Config(string output, int maxSteps, int checkpointEvery = 0, AlbefConfig? model = null) => new TrainConfig
    {
        Model = model ?? TinyTraining.Config,
        Vocab = TinyTraining.VocabFile,
        DataFiles = new[] { TinyTraining.WriteDataset(Path.Combine(_dir, "data"), 12) },
        BatchSize = 4,
        MaxSteps = maxSteps,
        Lr = 1e-3,
        WarmupSteps = 2,
        GradClip = 5.0,
        Seed = 123,
        CheckpointEvery = checkpointEvery,
        OutputDir = Path.Combine(_dir, output),
        PrefetchBatches = 2,
    };

    private static Dictionary<string, Tensor> Weights(string checkpoint) =>
        SafeTensors.Load(Path.Combine(checkpoint, TrainingCheckpoint.ModelFile)).Tensors;

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void Resume_AfterStop_ReachesTheSameWeightsAsAnUninterruptedRun()
    {
        var full = new Trainer(Config("full", 6), new RecordingReporter()).Run(new TrainStart());
        var firstHalf = new Trainer(Config("split", 6), new RecordingReporter()).Run(new TrainStart { StopAfterStep = 3 });
        Assert.Equal(3, firstHalf.LastStep);
        var reporter = new RecordingReporter();
        var resumed = new Trainer(Config("split", 6), reporter).Run(new TrainStart { ResumeFrom = Path.Combine(_dir, "split") });
        Assert.Equal(6, resumed.LastStep);
        Assert.Equal(4, reporter.Steps[0].Step);

        AssertSameWeights(full.LastCheckpoint!, resumed.LastCheckpoint!);
        Assert.Equal(full.LastLosses["loss"], resumed.LastLosses["loss"]);
        // The metrics log of the split run holds each step once.
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, LoggedSteps("split"));
    }

    /// <summary>Both checkpoints hold the same tensors with bitwise-equal values.</summary>
    private static void AssertSameWeights(string checkpointA, string checkpointB)
    {
        var a = Weights(checkpointA);
        var b = Weights(checkpointB);
        try
        {
            Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
            foreach (var (k, t) in a)
            {
                Assert.Equal(t.shape, b[k].shape);
                if (t.numel() == 0) continue; // the feature queues of a run without a queue
                using var d = (t.to_type(ScalarType.Float64) - b[k].to_type(ScalarType.Float64)).abs().max();
                Assert.True(d.ToDouble() == 0, $"{k} differs by {d.ToDouble()}");
            }
        }
        finally
        {
            foreach (var t in a.Values.Concat(b.Values)) t.Dispose();
        }
    }

    private List<int> LoggedSteps(string run) =>
        File.ReadLines(Path.Combine(_dir, run, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void TransientScalarError_ResumesFromTheLastCheckpoint_AndReachesTheSameWeights()
    {
        var full = new Trainer(Config("full", 6), new RecordingReporter()).Run(new TrainStart());
        bool failed = false;
        var reporter = new RecordingReporter();
        var faulty = new Trainer(Config("faulty", 6, checkpointEvery: 2), reporter)
        {
            // The message libtorch gives when a finalised Scalar is read (c10/core/Scalar.h).
            BeforeStep = step =>
            {
                if (step == 3 && !failed)
                {
                    failed = true;
                    throw new System.Runtime.InteropServices.ExternalException("Expected false to be true, but got false. Exception raised from toFloat at /pytorch/c10/core/Scalar.h:140");
                }
            },
        }.Run(new TrainStart());
        Assert.True(failed);
        Assert.Equal(6, faulty.LastStep);
        Assert.Contains(reporter.Messages, m => m.Contains("retry 1 of", StringComparison.Ordinal) && m.Contains("step-0000002", StringComparison.Ordinal));

        AssertSameWeights(full.LastCheckpoint!, faulty.LastCheckpoint!);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, LoggedSteps("faulty"));
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void WithoutAQueue_ItcUsesTheBatchOnly_AndRunsAndResumes()
    {
        var model = TinyTraining.Config with { QueueSize = 0 };
        var full = new Trainer(Config("q0-full", 4, model: model), new RecordingReporter()).Run(new TrainStart());
        new Trainer(Config("q0-split", 4, model: model), new RecordingReporter()).Run(new TrainStart { StopAfterStep = 2 });
        var resumed = new Trainer(Config("q0-split", 4, model: model), new RecordingReporter()).Run(new TrainStart { ResumeFrom = Path.Combine(_dir, "q0-split") });
        Assert.True(double.IsFinite(full.LastLosses["itc"]));
        Assert.Equal(full.LastLosses["loss"], resumed.LastLosses["loss"]);
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void TagsAndFalseNegativeFilter_RunAndResumeExactly_AndTheTagHeadIsCheckpointed()
    {
        // The tiny dataset with each scene's colour as its image-level tag.
        var plain = TinyTraining.WriteDataset(Path.Combine(_dir, "data"), 12);
        var tagged = Path.Combine(_dir, "data", "tagged.jsonl");
        File.WriteAllLines(tagged, File.ReadAllLines(plain).Select(line =>
        {
            var o = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
            string colour = TinyTraining.Colours.First(c => o["text"]!.GetValue<string>().Contains(c.Name)).Name;
            o["tags"] = new System.Text.Json.Nodes.JsonArray(colour, "square");
            return o.ToJsonString();
        }));
        TrainConfig Tagged(string output) => Config(output, 4, model: TinyTraining.Config with { QueueSize = 0 }) with
        {
            DataFiles = new[] { tagged },
            Objectives = new ObjectiveSwitches { Tags = true },
            FilterFalseNegatives = true,
        };
        var reporter = new RecordingReporter();
        var full = new Trainer(Tagged("tags-full"), reporter).Run(new TrainStart());
        Assert.All(reporter.Steps, s => Assert.True(double.IsFinite(s.Losses["tags"])));
        Assert.Contains(reporter.Messages, m => m.StartsWith("false-negative filter:", StringComparison.Ordinal));
        new Trainer(Tagged("tags-split"), new RecordingReporter()).Run(new TrainStart { StopAfterStep = 2 });
        var resumed = new Trainer(Tagged("tags-split"), new RecordingReporter()).Run(new TrainStart { ResumeFrom = Path.Combine(_dir, "tags-split") });
        AssertSameWeights(full.LastCheckpoint!, resumed.LastCheckpoint!);
        var weights = Weights(full.LastCheckpoint!);
        Assert.Equal(new long[] { TinyTraining.Colours.Length + 1, TinyTraining.Config.VisionWidth }, weights[AlbefPretrainer.TagHeadPrefix + "weight"].shape); // 4 colours, "square"
        foreach (var t in weights.Values) t.Dispose();

        // Tags asked for, none in the data: one clear error.
        var e = Assert.Throws<GroundSharpException>(() => new Trainer(Tagged("no-tags") with { DataFiles = new[] { plain } }, new RecordingReporter()).Run(new TrainStart()));
        Assert.Contains("no sample of the data files has \"tags\"", e.Message);

        // Tag ITM with the ALBEF objectives: logged, resumed exactly, and no tag head (it reads the ITM head).
        TrainConfig Matching(string output) => Tagged(output) with { Objectives = new ObjectiveSwitches { TagItm = true }, TagItmTexts = 2 };
        var matchingReporter = new RecordingReporter();
        var matched = new Trainer(Matching("tag-itm-full"), matchingReporter).Run(new TrainStart());
        Assert.All(matchingReporter.Steps, s => Assert.True(double.IsFinite(s.Losses["tag_itm"]) && s.Losses.ContainsKey("itm")));
        new Trainer(Matching("tag-itm-split"), new RecordingReporter()).Run(new TrainStart { StopAfterStep = 2 });
        var matchedResumed = new Trainer(Matching("tag-itm-split"), new RecordingReporter()).Run(new TrainStart { ResumeFrom = Path.Combine(_dir, "tag-itm-split") });
        AssertSameWeights(matched.LastCheckpoint!, matchedResumed.LastCheckpoint!);
        var matchedWeights = Weights(matched.LastCheckpoint!);
        Assert.DoesNotContain(matchedWeights.Keys, k => k.StartsWith(AlbefPretrainer.TagHeadPrefix, StringComparison.Ordinal));
        foreach (var t in matchedWeights.Values) t.Dispose();
        var parsed = TrainConfig.Parse("""{"data":{"files":["x.jsonl"]},"objectives":{"tag_itm":true},"tag_itm_texts":6}""", _dir);
        Assert.True(parsed.Objectives.TagItm);
        Assert.Equal(6, parsed.TagItmTexts);
        var odd = Assert.Throws<GroundSharpException>(() => (Matching("odd") with { TagItmTexts = 3 }).Validate());
        Assert.Contains("tag_itm_texts (3) must be an even number >= 2", odd.Message);
        var untagged = Assert.Throws<GroundSharpException>(() => new Trainer(Matching("no-tags-itm") with { DataFiles = new[] { plain } }, new RecordingReporter()).Run(new TrainStart()));
        Assert.Contains("objectives.tag_itm is on, but no sample", untagged.Message);
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void WordSwapNegatives_ChangeTheItmLoss_AndResumeExactly()
    {
        TrainConfig Swapping(string output, double share) => Config(output, 4, model: TinyTraining.Config with { QueueSize = 0 }) with
        {
            ItmSwapNegatives = share,
            SwapWordClasses = new[] { TinyTraining.Colours.Select(c => c.Name).ToArray() },
        };
        var reporter = new RecordingReporter();
        var full = new Trainer(Swapping("swap-full", 1), reporter).Run(new TrainStart());
        Assert.Contains(reporter.Messages, m => m.StartsWith("word-swap negatives: 100.0 %", StringComparison.Ordinal));
        var plain = new Trainer(Swapping("swap-none", 0), new RecordingReporter()).Run(new TrainStart());
        Assert.NotEqual(plain.LastLosses["itm"], full.LastLosses["itm"]);
        new Trainer(Swapping("swap-split", 1), new RecordingReporter()).Run(new TrainStart { StopAfterStep = 2 });
        var resumed = new Trainer(Swapping("swap-split", 1), new RecordingReporter()).Run(new TrainStart { ResumeFrom = Path.Combine(_dir, "swap-split") });
        AssertSameWeights(full.LastCheckpoint!, resumed.LastCheckpoint!);

        var e = Assert.Throws<GroundSharpException>(() => (Swapping("bad", 1.5)).Validate());
        Assert.Contains("itm_swap_negatives (1.5) must be in [0, 1]", e.Message);
    }

    [Fact]
    public void OtherNativeErrors_AreNotRetried()
    {
        var trainer = new Trainer(Config("other", 2), new RecordingReporter())
        {
            BeforeStep = _ => throw new System.Runtime.InteropServices.ExternalException("shape '[4, -1]' is invalid for input of size 3"),
        };
        Assert.Throws<System.Runtime.InteropServices.ExternalException>(() => trainer.Run(new TrainStart()));
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void TinyOverfitRun_DecreasesTheLossOnAFixedBatch()
    {
        using var pre = new AlbefPretrainer(new AlbefModel(TinyTraining.Config, 5), 5);
        var named = Trainer.UniqueTrainableParameters(pre.Model);
        using var optimizer = optim.AdamW(named.Select(p => p.Parameter), lr: 1e-3, weight_decay: 0.02);
        using var batch = TinyTraining.Batch(4, i => i % 2 == 0);
        var amcOptions = new GroundSharp.Losses.AmcLossOptions();
        // Evaluated without dropout and with the same masks and negatives (same generator seed) before and after;
        // ITC is left out of the comparison because the queue contents change between the two evaluations.
        var evalObjectives = new ObjectiveSwitches { Itc = false };
        Dictionary<string, double> Evaluate()
        {
            pre.Train(false);
            using var scope = NewDisposeScope();
            using var gen = new Generator(77);
            using var losses = pre.ComputeLosses(batch, 0.4, evalObjectives, amcOptions, TinyTraining.MlmTokens, gen);
            return losses.ToValues();
        }

        var before = Evaluate();
        using var trainGen = new Generator(4);
        for (int step = 0; step < 20; step++)
        {
            pre.Train();
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using var losses = pre.ComputeLosses(batch, 0.4, new ObjectiveSwitches(), amcOptions, TinyTraining.MlmTokens, trainGen);
            losses.Total.backward();
            optimizer.step();
        }
        var after = Evaluate();
        Assert.True(after["loss"] < 0.9 * before["loss"], $"ITM+MLM+AMC {before["loss"]:F4} -> {after["loss"]:F4}");
        Assert.True(after["amc"] < before["amc"], $"AMC {before["amc"]:F4} -> {after["amc"]:F4}");
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void FreshRunIntoAnOldRunsFolder_StartsTheLogAfresh_AndRemovesUnfinishedCheckpointWrites()
    {
        string run = Path.Combine(_dir, "reused");
        var stale = Directory.CreateDirectory(Path.Combine(run, "checkpoints", ".step-0000005.0123abcd.tmp")).FullName;
        File.WriteAllText(Path.Combine(stale, "model.safetensors"), "half written");
        File.WriteAllLines(Path.Combine(run, "metrics.jsonl"), ["{\"step\": 1}", "{\"step\": 2}", "{\"step\": 3}"]);

        var reporter = new RecordingReporter();
        new Trainer(Config("reused", 2), reporter).Run(new TrainStart());

        Assert.Equal(new[] { 1, 2 }, LoggedSteps("reused"));
        Assert.False(Directory.Exists(stale));
        Assert.Contains(reporter.Messages, m => m.StartsWith("removed 1 unfinished checkpoint folder"));
    }

    [Fact]
    public void Checkpoint_FailingBeforeCommit_LeavesNoFolderAndNoTemporaryFiles()
    {
        using var pre = new AlbefPretrainer(new AlbefModel(TinyTraining.Config, 6), 6);
        string dir = Path.Combine(_dir, "checkpoints");
        using var rng = torch.random.get_rng_state();
        using var gen = new Generator(1);
        using var genState = gen.get_state();
        var state = new TrainerState(7, 10, 3, 1, new Dictionary<string, long>());
        TrainingCheckpoint.BeforeCommit = folder => throw new IOException("disk full (simulated)");
        try
        {
            Assert.Throws<IOException>(() => TrainingCheckpoint.Save(dir, pre, new Dictionary<string, Tensor>(), rng, genState, state));
        }
        finally
        {
            TrainingCheckpoint.BeforeCommit = null;
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir));

        string saved = TrainingCheckpoint.Save(dir, pre, new Dictionary<string, Tensor>(), rng, genState, state);
        Assert.Equal(Path.Combine(dir, "step-0000007"), saved);
        Assert.Equal(new[] { saved }, Directory.GetFileSystemEntries(dir));
        Assert.Equal(saved, TrainingCheckpoint.Resolve(_dir));
        // The model file is an ordinary model checkpoint: the grounding loader reads it (training-only keys ignored).
        var loaded = AlbefLoader.Load(Path.Combine(saved, TrainingCheckpoint.ModelFile));
        Assert.True(loaded.Report.IsClean, loaded.Report.Summary("model.safetensors"));
        Assert.NotEmpty(loaded.Report.IgnoredTrainingOnly);
    }
}
