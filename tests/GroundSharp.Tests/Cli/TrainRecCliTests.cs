using System.Text.Json;
using GroundSharp.Data.Synthetic;
using GroundSharp.IO;
using GroundSharp.Rec;
using GroundSharp.Tests.Rec;
using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary><c>train-rec</c> end to end on a tiny synthetic benchmark, with a Darknet .weights detector written in the real layout.</summary>
[Trait("Category", "EndToEnd")]
public class TrainRecCliTests
{
    private const string TinyConfig = """
        {"language": {"word_dim": 8, "hidden": 16, "heads": 2, "max_length": 12}, "fused_dim": 16, "cma_heads": 2, "cma_ffn_hidden": 32,
         "embed_dim": 8, "top_k": 4, "text_conditioning": "query"}
        """;

    /// <summary>A tiny benchmark, a .weights file for an 8-class tiny detector at 64 px, its config, and the REC config.</summary>
    private static (string Data, string Weights, string DetectorConfig, string RecConfig) Setup()
    {
        var dir = CliProcess.TempDir();
        var data = Path.Combine(dir, "synth");
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(5), data);
        var detector = TinyRec.Detector(classes: 8);
        using var model = new YoloV3(detector, seed: 2);
        var weights = Path.Combine(dir, "yolo.weights");
        DarknetFile.Write(model, weights);
        var detectorConfig = Path.Combine(dir, "detector.json");
        File.WriteAllText(detectorConfig, RecJson.Serialize(detector));
        var recConfig = Path.Combine(dir, "rec.json");
        File.WriteAllText(recConfig, TinyConfig);
        return (data, weights, detectorConfig, recConfig);
    }

    private static string[] Args(string data, string weights, string detectorConfig, string recConfig, string output, params string[] more) =>
        ["train-rec", "--data", data, "--detector", weights, "--detector-config", detectorConfig, "--config", recConfig, "--out", output,
         "--epochs", "3", "--batch-size", "4", .. more];

    private static void AssertCleanError(CliProcess.Result r, string mustContain) => CliProcess.AssertCleanError(r, mustContain);

    [Fact]
    public void TrainsFromPairsCachesTheImagesAndResumesBitwise()
    {
        var (data, weights, detectorConfig, recConfig) = Setup();
        var first = Path.Combine(CliProcess.TempDir(), "run");
        var r = CliProcess.Run(Args(data, weights, detectorConfig, recConfig, first));
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("val: IoU@0.5", r.StdOut);
        Assert.True(File.Exists(Path.Combine(first, "eval.json")));
        var steps = File.ReadAllLines(Path.Combine(first, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, steps.Length), steps.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
        var checkpoints = Directory.GetDirectories(Path.Combine(first, "checkpoints")).Order().ToList();
        Assert.Equal(2, checkpoints.Count); // the two latest are kept

        // A second run with the same detector reuses the cache; stopping after epoch 2 and resuming gives the same weights.
        var second = Path.Combine(CliProcess.TempDir(), "run");
        Directory.CreateDirectory(second);
        CopyDirectory(Path.Combine(first, "cache"), Path.Combine(second, "cache"));
        Directory.CreateDirectory(Path.Combine(second, "checkpoints"));
        CopyDirectory(checkpoints[0], Path.Combine(second, "checkpoints", Path.GetFileName(checkpoints[0])));
        File.Copy(Path.Combine(first, "settings.json"), Path.Combine(second, "settings.json"));
        int stepsBefore = RecTrainer.StepOf(checkpoints[0]);
        File.WriteAllLines(Path.Combine(second, "metrics.jsonl"), steps.Take(stepsBefore + 2)); // two lines of a step that was lost
        var resumed = CliProcess.Run(Args(data, weights, detectorConfig, recConfig, second, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.StdErr);
        Assert.Contains("resumed from", resumed.StdErr);
        Assert.DoesNotContain("caching:", resumed.StdErr.Split('\n').First(l => l.Contains("encoded by the frozen detector")));
        Assert.Equal(steps.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()),
            File.ReadAllLines(Path.Combine(second, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
        var (a, _) = SafeTensors.Load(Path.Combine(first, "rec.safetensors"));
        var (b, _) = SafeTensors.Load(Path.Combine(second, "rec.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].equal(b[key]).all().item<bool>(), key);

        // The finished run is not silently retrained; bad inputs give one error line.
        AssertCleanError(CliProcess.Run(Args(data, weights, detectorConfig, recConfig, first)), "--resume");
        AssertCleanError(CliProcess.Run(Args(data, weights, detectorConfig, recConfig, first, "--resume", "--lr", "0.1")), "other settings");
        var cut = Path.Combine(CliProcess.TempDir(), "cut.weights");
        File.WriteAllBytes(cut, File.ReadAllBytes(weights)[..^40]);
        AssertCleanError(CliProcess.Run(Args(data, cut, detectorConfig, recConfig, Path.Combine(CliProcess.TempDir(), "x"))), "cut.weights");
        var wrongClasses = Path.Combine(CliProcess.TempDir(), "d80.json");
        File.WriteAllText(wrongClasses, RecJson.Serialize(TinyRec.Detector(classes: 80)));
        AssertCleanError(CliProcess.Run(Args(data, weights, wrongClasses, recConfig, Path.Combine(CliProcess.TempDir(), "x"))), "yolo.weights");
        var badExpressions = Path.Combine(CliProcess.TempDir(), "bad.jsonl");
        File.WriteAllText(badExpressions, "{\"image\": \"a.png\", \"text\": }\n");
        AssertCleanError(CliProcess.Run(Args(badExpressions, weights, detectorConfig, recConfig, Path.Combine(CliProcess.TempDir(), "x"))), "bad.jsonl");
    }

    [Fact]
    public void AStopWhileCachingLeavesOnlyCompleteParts()
    {
        var (data, _, _, _) = Setup();
        using var model = TinyRecModel.Create();
        var images = Directory.GetFiles(Path.Combine(data, "images"), "*.png", SearchOption.AllDirectories).Order().Take(5).ToList();
        var cache = CliProcess.TempDir();
        EncodedImages.AfterCachePart = file => { if (file.EndsWith("part-00001.safetensors")) throw new IOException("stopped"); };
        try { Assert.Throws<IOException>(() => EncodedImages.Cached(model, images, cache, partSize: 2)); }
        finally { EncodedImages.AfterCachePart = null; }
        var files = Directory.GetFiles(cache, "*", SearchOption.AllDirectories);
        Assert.Equal(["part-00000.safetensors", "part-00001.safetensors"], files.Select(Path.GetFileName).Order());
        using var resumed = EncodedImages.Cached(model, images, cache, partSize: 2);
        using var fresh = EncodedImages.Encode(model, images);
        Assert.True(resumed.Visual.Cells.equal(fresh.Visual.Cells).all().item<bool>());
        for (int s = 0; s < 3; s++) Assert.True(resumed.Visual.Features[s].allclose(fresh.Visual.Features[s], rtol: 1e-5, atol: 1e-6));
        Assert.Equal(fresh.Sizes, resumed.Sizes);
        Assert.Throws<GroundSharpException>(() => resumed.Row(Path.Combine(data, "never-seen.png")));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
