using GroundSharp.IO;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Training;

public class TrainCliTests
{
    private static string WriteConfig(string dir, string dataFile, int maxSteps, bool exportPth = false)
    {
        string path = Path.Combine(dir, "train.json");
        File.WriteAllText(path, $$"""
        {
          "model": {{TinyTraining.Config.ToJson()}},
          "vocab": "{{TinyTraining.VocabFile}}",
          "data": { "files": ["{{dataFile}}"] },
          "batch_size": 4, "max_steps": {{maxSteps}}, "lr": 1e-4, "warmup_steps": 1, "seed": 3,
          "checkpoint_every": 1, "output_dir": "run", "export_pth": {{(exportPth ? "true" : "false")}},
          "amc": { "variant": "max_only" },
          "augmentation": { "grayscale_probability": 0.2 }
        }
        """);
        return path;
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void Train_WritesCheckpointsMetricsAndPthExport()
    {
        string dir = CliProcess.TempDir();
        string data = TinyTraining.WriteDataset(Path.Combine(dir, "data"), 8);
        var r = CliProcess.Run("train", "--config", WriteConfig(dir, data, 2, exportPth: true));
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("step 2/2", r.StdOut);
        Assert.True(Directory.Exists(Path.Combine(dir, "run", "checkpoints", "step-0000001")));
        Assert.True(File.Exists(Path.Combine(dir, "run", "checkpoints", "step-0000002", "trainer.safetensors")));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, "run", "metrics.jsonl")).Length);
        var sd = TorchCheckpointReader.LoadStateDict(Path.Combine(dir, "run", "model.pth"));
        Assert.Contains("visual_encoder_m.cls_token", sd.Keys);
        Assert.Contains("image_queue", sd.Keys);
        foreach (var t in sd.Values) t.Dispose();
    }

    [Fact]
    public void Train_MalformedLine_FailsNamingTheRecord_MissingImage_IsSkippedWithAWarning()
    {
        string dir = CliProcess.TempDir();
        string data = TinyTraining.WriteDataset(Path.Combine(dir, "data"), 6);
        File.AppendAllText(data, "{\"image\": \"nowhere.png\", \"text\": \"a lost picture\", \"box\": null}\n");
        var bad = Path.Combine(dir, "bad.jsonl");
        File.WriteAllText(bad, File.ReadAllText(data) + "{not json\n");

        var r = CliProcess.Run("train", "--config", WriteConfig(dir, bad, 1));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("bad.jsonl:8", r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);

        var ok = CliProcess.Run("train", "--config", WriteConfig(dir, data, 1), "--stop-after", "1");
        Assert.True(ok.ExitCode == 0, ok.StdErr + ok.StdOut);
        Assert.Contains("samples.jsonl:7: image not found", ok.StdOut);
    }

    [Fact]
    [Trait("Category", "EndToEnd")]
    public void Resume_WritesIntoTheResumedRunsFolder_NotTheConfigsOutputDir()
    {
        string dir = CliProcess.TempDir();
        string data = TinyTraining.WriteDataset(Path.Combine(dir, "data"), 8);
        string config = WriteConfig(dir, data, 2);
        string first = Path.Combine(dir, "first");
        var started = CliProcess.Run("train", "--config", config, "--out", first, "--stop-after", "1");
        Assert.True(started.ExitCode == 0, started.StdErr + started.StdOut);

        var resumed = CliProcess.Run("train", "--config", config, "--resume", first);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        Assert.True(Directory.Exists(Path.Combine(first, "checkpoints", "step-0000002")));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(first, "metrics.jsonl")).Length);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public void Train_EveryImageMissing_NamesTheMissingImagesInTheError()
    {
        string dir = CliProcess.TempDir();
        var data = Path.Combine(dir, "lost.jsonl");
        File.WriteAllLines(data, ["{\"image\": \"nowhere.png\", \"text\": \"a lost picture\"}", "{\"image\": \"gone.png\", \"text\": \"another\"}"]);
        var r = CliProcess.Run("train", "--config", WriteConfig(dir, data, 1));
        CliProcess.AssertCleanError(r, "every one of the 2 samples", "lost.jsonl:1: image not found", "nowhere.png");
        Assert.DoesNotContain("see the warnings", r.StdErr + r.StdOut);
    }
}
