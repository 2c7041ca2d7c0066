using System.Text.Json;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Experiments;
using GroundSharp.Rec;
using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary>The REC commands end to end on tiny synthetic benchmarks: train-detector, experiment rec --quick, eval --method rec.</summary>
[Trait("Category", "EndToEnd")]
public class RecCliTests
{
    private static string TinyBenchmark(int seed = 3)
    {
        var dir = Path.Combine(CliProcess.TempDir(), "synth");
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(seed), dir);
        return dir;
    }

    private static EvalReport Read(string path) => JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(path), EvalReport.Json)!;

    private static void AssertCleanError(CliProcess.Result r, string mustContain) => CliProcess.AssertCleanError(r, mustContain);

    [Fact]
    public void TrainDetectorWritesAShapeDetectorWithProgress()
    {
        var data = TinyBenchmark();
        var output = Path.Combine(CliProcess.TempDir(), "detector.safetensors");
        var r = CliProcess.Run("train-detector", "--data", data, "--out", output, "--steps", "2", "--batch-size", "4", "--size", "tiny", "--input-size", "64");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("detector: step 2/2", r.StdErr);
        Assert.False(File.Exists(output + ".tmp"));
        using var detector = YoloV3.Load(output);
        Assert.Equal(Words.Shapes.Count, detector.Config.NumClasses);
        Assert.Equal(64, detector.Config.InputSize);
        Assert.Equal([1, 1, 1, 1, 1], detector.Config.StageDepths);
    }

    [Fact]
    public void QuickExperimentTrainsAllVariantsReusesItsStagesAndItsCheckpointsEvaluate()
    {
        var outDir = Path.Combine(CliProcess.TempDir(), "rec");
        var first = CliProcess.Run("experiment", "rec", "--quick", "--out", outDir);
        Assert.True(first.ExitCode == 0, first.StdErr + first.StdOut);
        foreach (var variant in RecVariant.All)
        {
            Assert.True(File.Exists(Path.Combine(outDir, "runs", variant.Name, "rec.safetensors")), variant.Name);
            Assert.Contains(variant.Description, File.ReadAllText(Path.Combine(outDir, "results.md")));
        }
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, RecExperiment.ResultsFile))))
            Assert.Equal(RecVariant.All.Count, doc.RootElement.GetProperty("rows").GetArrayLength());
        // REC trains on a box split of its own (other images than the detector's and the evaluation's), phrases only.
        var recImages = File.ReadLines(Path.Combine(outDir, "data-rec", "boxes.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("image").GetString()).Distinct().Count();
        Assert.Equal(RecExperimentOptions.Quick("x").RecImages, recImages);
        Assert.Contains($"seed {RecExperimentOptions.Quick("x").RecDataSeed}", first.StdOut);

        var again = CliProcess.Run("experiment", "rec", "--quick", "--out", outDir);
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Contains("detector: reusing", again.StdOut);
        foreach (var variant in RecVariant.All) Assert.Contains($"{variant.Name}: reusing", again.StdOut);
        var changed = CliProcess.Run("experiment", "rec", "--quick", "--out", outDir, "--epochs", "2");
        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("the 'baseline' stage there was trained with other settings (epochs: 1 → 2)", changed.StdErr);

        // eval --method rec on a stage's checkpoint counts the same hits as the experiment's own evaluation.
        var stage = JsonSerializer.Deserialize<RecExperimentRow>(File.ReadAllText(Path.Combine(outDir, "runs", "cma", "stage.json")), EvalReport.Json)!;
        var expected = stage.Splits[SynthSplits.Val];
        var evalDir = CliProcess.TempDir();
        var r = CliProcess.Run("eval", "--method", "rec", "--checkpoint", stage.Checkpoint, "--data", Path.Combine(outDir, "data"), "--split", "val",
            "--limit", expected.Items.ToString(), "--out", evalDir);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var report = Read(Path.Combine(evalDir, "report.json"));
        Assert.Equal(expected.Items, report.Items);
        Assert.Equal(expected.RecallAtK!["R@1"].Overall, report.RecallAtK!["R@1"].Overall);
        Assert.Contains(report.RecallAtK["R@1"].Categories, c => c.Name == "attribute");
        Assert.True(File.Exists(Path.Combine(evalDir, "report.md")));

        // ground recognises the REC checkpoint: the chosen anchor box, every candidate with its score, an overlay per phrase.
        var image = GroundingEvaluator.FromSampleFile(Path.Combine(outDir, "data", "val.jsonl"), "val").First().ImagePath;
        var groundDir = CliProcess.TempDir();
        var g = CliProcess.Run("ground", "--checkpoint", stage.Checkpoint, "--image", image, "--text", "the red circle", "--text", "qqq", "--out", groundDir);
        Assert.True(g.ExitCode == 0, g.StdErr);
        Assert.Contains("warning: none of the phrase's words are in the REC model's vocabulary (qqq)", g.StdErr);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(groundDir, "results.json"))))
        {
            Assert.Equal("rec", doc.RootElement.GetProperty("method").GetString());
            var results = doc.RootElement.GetProperty("results");
            Assert.Equal(2, results.GetArrayLength());
            var answer = results[0];
            var candidates = answer.GetProperty("candidates");
            Assert.Equal(RecExperimentOptions.Quick("x").Model.TopK, candidates.GetArrayLength());
            Assert.Equal(answer.GetProperty("score").GetDouble(), candidates[0].GetProperty("score").GetDouble());
            static double[] Values(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(Values(answer.GetProperty("box")), Values(candidates[0].GetProperty("box")));
            var scores = candidates.EnumerateArray().Select(c => c.GetProperty("score").GetDouble()).ToList();
            Assert.Equal(scores.OrderByDescending(x => x).ToList(), scores);
            Assert.True(File.Exists(Path.Combine(groundDir, answer.GetProperty("overlay").GetString()!)));
        }
        AssertCleanError(CliProcess.Run("ground", "--checkpoint", stage.Checkpoint, "--method", "gradcam", "--image", image, "--text", "x"), "--method rec");
        AssertCleanError(CliProcess.Run("ground", "--checkpoint", stage.Checkpoint, "--image", image, "--text", "x", "--layer", "1"), "--layer");
        AssertCleanError(CliProcess.Run("ground", "--method", "rec", "--image", image, "--text", "x"), "--checkpoint");
        AssertCleanError(CliProcess.Run("eval", "--checkpoint", stage.Checkpoint, "--data", Path.Combine(outDir, "data"), "--split", "val"), "REC checkpoint");
    }

    [Fact]
    public void BadArgumentsGiveOneErrorLine()
    {
        var data = TinyBenchmark();
        var dir = CliProcess.TempDir();
        var detector = Path.Combine(dir, "d.safetensors");
        AssertCleanError(CliProcess.Run("train-detector", "--data", data, "--out", detector, "--steps", "0"), "--steps");
        AssertCleanError(CliProcess.Run("train-detector", "--data", data, "--out", detector, "--size", "huge"), "huge");
        AssertCleanError(CliProcess.Run("train-detector", "--data", data, "--out", detector, "--depth", "1,2"), "--depth");
        AssertCleanError(CliProcess.Run("train-detector", "--data", data, "--out", detector, "--input-size", "100"), "input_size");
        AssertCleanError(CliProcess.Run("train-detector", "--data", Path.Combine(dir, "missing"), "--out", detector), "not found");
        AssertCleanError(CliProcess.Run("train-detector", "--data", dir, "--out", detector), "synth.json");
        AssertCleanError(CliProcess.Run("eval", "--method", "rec", "--data", data, "--split", "val"), "--checkpoint");
        AssertCleanError(CliProcess.Run("eval", "--method", "yolo", "--data", data, "--split", "val"), "--method");
        AssertCleanError(CliProcess.Run("eval", "--method", "rec", "--checkpoint", detector, "--data", data, "--split", "val", "--proposals"), "--proposals");
        AssertCleanError(CliProcess.Run("experiment", "rec", "--quick", "--out", Path.Combine(dir, "x"), "--amc", Path.Combine(dir, "no-amc")), "--amc");
    }
}
