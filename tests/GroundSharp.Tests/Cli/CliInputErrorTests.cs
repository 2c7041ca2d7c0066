using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary>Bad command lines and inputs of issue 13: one <c>error:</c> line naming the problem, exit code 2, no stack trace.</summary>
[Trait("Category", "EndToEnd")]
public class CliInputErrorTests
{
    private static string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));
    private static readonly string Checkpoint = FixtureData.PathOf("checkpoint.pth");

    private static void AssertCleanError(CliProcess.Result r, params string[] mustContain)
    {
        CliProcess.AssertCleanError(r, mustContain);
        Assert.DoesNotContain("System.", r.StdErr);
        Assert.DoesNotContain("Usage:", r.StdOut + r.StdErr);
    }

    [Fact]
    public void OptionValueThatDoesNotParse_SaysWhatIsExpected()
    {
        var r = CliProcess.Run("ground", "--image", Cli("image_0_256.png"), "--text", "qdaw", "--layer", "three");
        AssertCleanError(r, "--layer three", "an integer");
    }

    [Fact]
    public void UnknownOption_IsAnErrorLine()
    {
        var r = CliProcess.Run("ground", "--image", Cli("image_0_256.png"), "--text", "qdaw", "--bogus");
        AssertCleanError(r, "--bogus");
    }

    [Fact]
    public void UnknownCommand_IsNamed() => AssertCleanError(CliProcess.Run("frobnicate"), "frobnicate");

    /// <summary>A one-image GroundingSample file: each (phrase, box) on one line, after a blank line (line numbers are file lines).</summary>
    private static string Dataset(params (string Phrase, int[] Box)[] items)
    {
        var dir = CliProcess.TempDir();
        var image = FixtureData.PathOf("image_0_320x240.png");
        var lines = items.Select(i => System.Text.Json.JsonSerializer.Serialize(new { image, text = i.Phrase, box = i.Box }));
        var file = Path.Combine(dir, "val.jsonl");
        File.WriteAllLines(file, lines.Prepend(""));
        return file;
    }

    private static CliProcess.Result Eval(string data, params string[] extra) =>
        CliProcess.Run(new[] { "eval", "--data", data, "--split", "val", "--checkpoint", Checkpoint, "--config", Cli("groundsharp-config.json"),
            "--vocab", Cli("vocab.txt") }.Concat(extra.Contains("--out") ? extra : [.. extra, "--out", CliProcess.TempDir()]).ToArray());

    [Fact]
    public void PhraseOfOnlyUnknownTokens_IsGroundedWithAWarning()
    {
        var outDir = CliProcess.TempDir();
        var r = CliProcess.Run("ground", "--checkpoint", Checkpoint, "--config", Cli("groundsharp-config.json"), "--vocab", Cli("vocab.txt"),
            "--image", Cli("image_0_256.png"), "--text", "zzzz", "--text", "qdaw", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var warning = Assert.Single(r.StdErr.Split('\n'), l => l.StartsWith("warning:"));
        Assert.Contains("\"zzzz\" is [UNK]", warning);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var results = doc.RootElement.GetProperty("results");
        Assert.Single(results[0].GetProperty("warnings").EnumerateArray());
        Assert.Empty(results[1].GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public void EvalOfPhrasesOfOnlyUnknownTokens_WarnsInTheOutputAndTheReport()
    {
        var outDir = CliProcess.TempDir();
        var r = Eval(Dataset(("zzzz", [0, 0, 100, 100]), ("qdaw", [0, 0, 100, 100])), "--out", outDir);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("warning: 1 of 2 phrases are all [UNK]", r.StdErr);
        Assert.Contains("all [UNK]", File.ReadAllText(Path.Combine(outDir, "report.md")));
    }

    [Fact]
    public void EvalLimitZero_BlamesTheLimit() =>
        AssertCleanError(Eval(Dataset(("qdaw", [0, 0, 100, 100])), "--limit", "0"), "--limit 0", "at least 1");

    [Fact]
    public void ZeroAreaGroundTruthBox_IsRefusedWithFileAndLine()
    {
        var data = Dataset(("qdaw", [0, 0, 100, 100]), ("qdbs", [40, 10, 40, 90]));
        AssertCleanError(Eval(data), $"{data}:3", "zero area");
    }

    private static CliProcess.Result Ground(string checkpoint, string config) =>
        CliProcess.Run("ground", "--checkpoint", checkpoint, "--config", config, "--vocab", Cli("vocab.txt"),
            "--image", Cli("image_0_256.png"), "--text", "qdaw", "--out", CliProcess.TempDir());

    [Fact]
    public void CheckpointThatIsADirectory_IsSaidToBeOne()
    {
        var dir = CliProcess.TempDir();
        AssertCleanError(Ground(dir, Cli("groundsharp-config.json")), dir, "is a directory");
    }

    [Fact]
    public void ConfigTooLargeToAllocate_NamesTheConfigAndTheSize()
    {
        var config = Path.Combine(CliProcess.TempDir(), "huge.json");
        File.WriteAllText(config, """{ "vision_width": 96, "vision_heads": 12, "bert": { "hidden_size": 96, "num_attention_heads": 12, "fusion_layer": 2, "num_hidden_layers": 4, "vocab_size": 1000000000 } }""");
        AssertCleanError(Ground(Checkpoint, config), "huge.json", "bert.vocab_size 1000000000");
    }
}
