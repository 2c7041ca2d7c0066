using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace GroundSharp.Tests.Cli;

/// <summary>The whole user path (PNG → preprocess → tokenizer → model → GradCAM → results.json) against the fixture's cli/ folder.</summary>
[Trait("Category", "EndToEnd")]
public class GroundCliTests(ITestOutputHelper output)
{
    private static string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));
    private static string Checkpoint => FixtureData.PathOf("checkpoint.pth");

    private static string[] FixtureArgs(string image, string outDir, params string[] texts)
    {
        var args = new List<string> { "ground", "--checkpoint", Checkpoint, "--config", Cli("groundsharp-config.json"), "--vocab", Cli("vocab.txt"), "--image", image, "--out", outDir };
        foreach (var t in texts) { args.Add("--text"); args.Add(t); }
        return args.ToArray();
    }

    [Fact]
    public void GroundWritesGridMapsMatchingTheAuthorsCode()
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Cli("expected.json")));
        var items = expected.RootElement.GetProperty("items").EnumerateArray().ToList();
        int paddedLength = items.Max(i => i.GetProperty("token_ids").GetArrayLength());
        double worstNormalised = 0, worstOfficial = 0;
        foreach (var item in items)
        {
            var outDir = CliProcess.TempDir();
            var r = CliProcess.Run(FixtureArgs(Cli(item.GetProperty("image").GetString()!), outDir, item.GetProperty("phrase").GetString()!));
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
            var res = results.RootElement.GetProperty("results")[0];
            var grid = res.GetProperty("gridMap").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(256, grid.Length);
            Assert.True(File.Exists(Path.Combine(outDir, res.GetProperty("overlay").GetString()!)));

            var overMax = item.GetProperty("gridMap_over_max").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double max = grid.Max();
            worstNormalised = Math.Max(worstNormalised, grid.Select((v, i) => Math.Abs(v / max - overMax[i])).Max());
            Assert.Equal(item.GetProperty("argmax_row_major").GetInt32(), Array.IndexOf(grid, max));

            // The authors average over the padded batch length; we over the phrase's own tokens.
            int own = item.GetProperty("token_ids").GetArrayLength();
            var official = item.GetProperty("gridMap_official").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double officialMax = official.Max();
            worstOfficial = Math.Max(worstOfficial, grid.Select((v, i) => Math.Abs(v * own / paddedLength - official[i])).Max() / officialMax);
        }
        output.WriteLine($"max |ours/max - official/max| = {worstNormalised:E2}; rescaled raw maps: max rel err {worstOfficial:E2}");
        Assert.True(worstNormalised < 1e-4, $"{worstNormalised}");
        Assert.True(worstOfficial < 1e-4, $"{worstOfficial}");
    }

    [Fact]
    public void SeveralPhrasesInOneRunGiveTheSameMapsAsOneByOne()
    {
        var outDir = CliProcess.TempDir();
        var r = CliProcess.Run(FixtureArgs(Cli("image_0_256.png"), outDir, "qdaw qdwd qdkw qczu qcrt", "qdbs qcqi qcuz"));
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var all = results.RootElement.GetProperty("results");
        Assert.Equal(2, all.GetArrayLength());
        var outDir2 = CliProcess.TempDir();
        Assert.Equal(0, CliProcess.Run(FixtureArgs(Cli("image_0_256.png"), outDir2, "qdbs qcqi qcuz")).ExitCode);
        using var single = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir2, "results.json")));
        var a = all[1].GetProperty("gridMap").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var b = single.RootElement.GetProperty("results")[0].GetProperty("gridMap").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double max = b.Max();
        Assert.True(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) / max < 1e-5);
        foreach (var key in new[] { "point", "box", "score" }) Assert.True(all[0].TryGetProperty(key, out _), key);
    }

    [Fact]
    public void OverlongPhraseIsTruncatedWithAWarning()
    {
        var dir = CliProcess.TempDir();
        var cfg = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(Cli("groundsharp-config.json")))!;
        var cfgPath = Path.Combine(dir, "config.json");
        var withWords = cfg.ToDictionary(kv => kv.Key, kv => (object)kv.Value);
        withWords["max_words"] = 200;
        File.WriteAllText(cfgPath, JsonSerializer.Serialize(withWords));
        var phrase = string.Join(' ', Enumerable.Repeat("qdaw qdwd", 50)); // 100 words → 102 tokens > 64 positions
        var r = CliProcess.Run("ground", "--checkpoint", Checkpoint, "--config", cfgPath, "--vocab", Cli("vocab.txt"),
            "--image", Cli("image_0_256.png"), "--out", dir, "--text", phrase);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("warning:", r.StdErr);
        Assert.Contains("truncated to the model's 64 positions", r.StdErr);
    }
}
