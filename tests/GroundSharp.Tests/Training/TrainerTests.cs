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

    private TrainConfig Config(string output, int maxSteps, int checkpointEvery = 0) => new TrainConfig
    {
        Model = TinyTraining.Config,
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

        var a = Weights(full.LastCheckpoint!);
        var b = Weights(resumed.LastCheckpoint!);
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        double maxDiff = 0;
        foreach (var (k, t) in a)
        {
            using var d = (t.to_type(ScalarType.Float64) - b[k].to_type(ScalarType.Float64)).abs().max();
            maxDiff = Math.Max(maxDiff, d.ToDouble());
        }
        Assert.Equal(0.0, maxDiff);
        Assert.Equal(full.LastLosses["loss"], resumed.LastLosses["loss"]);
        foreach (var t in a.Values.Concat(b.Values)) t.Dispose();
        // The metrics log of the split run holds each step once.
        var steps = File.ReadLines(Path.Combine(_dir, "split", "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, steps);
    }
}
