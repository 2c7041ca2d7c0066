using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary>Bad inputs to <c>groundsharp ground</c>: one clear error line, a non-zero exit, never a stack trace.</summary>
[Trait("Category", "EndToEnd")]
public class GroundCliErrorTests
{
    private static string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));
    private static readonly string Checkpoint = FixtureData.PathOf("checkpoint.pth");

    private sealed record Run(CliProcess.Result Result, string OutDir);

    /// <summary>A clean error (one line, exit 2) and nothing written: a refused input leaves no overlay or results.json.</summary>
    private static void AssertCleanError(Run run, params string[] mustContain)
    {
        CliProcess.AssertCleanError(run.Result, mustContain);
        Assert.Empty(Directory.GetFileSystemEntries(run.OutDir));
    }

    private static Run Ground(string image, string text, string? checkpoint = null, string? vocab = null, params string[] extra)
    {
        var outDir = CliProcess.TempDir();
        var result = CliProcess.Run(["ground", "--checkpoint", checkpoint ?? Checkpoint, "--config", Cli("groundsharp-config.json"),
            "--vocab", vocab ?? Cli("vocab.txt"), "--image", image, "--text", text, "--out", outDir, .. extra]);
        return new Run(result, outDir);
    }

    [Fact]
    public void MissingImage() => AssertCleanError(Ground("/nonexistent/photo.jpg", "qdaw"), "/nonexistent/photo.jpg");

    [Fact]
    public void CorruptImage()
    {
        var path = Path.Combine(CliProcess.TempDir(), "corrupt.png");
        File.WriteAllBytes(path, new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5, 6, 7, 8, 9 });
        AssertCleanError(Ground(path, "qdaw"), "corrupt.png");
    }

    [Fact]
    public void EmptyImage()
    {
        var path = Path.Combine(CliProcess.TempDir(), "empty.jpg");
        File.WriteAllBytes(path, Array.Empty<byte>());
        AssertCleanError(Ground(path, "qdaw"), "empty.jpg");
    }

    [Fact]
    public void EmptyPhrase() => AssertCleanError(Ground(Cli("image_0_256.png"), "   "), "empty");

    [Fact]
    public void PhraseThatIsOnlyPunctuation() => AssertCleanError(Ground(Cli("image_0_256.png"), "?!..."), "empty after cleaning");

    [Fact]
    public void MissingCheckpoint() => AssertCleanError(Ground(Cli("image_0_256.png"), "qdaw", checkpoint: "/nonexistent/model.pth"), "/nonexistent/model.pth");

    [Fact]
    public void TruncatedCheckpoint()
    {
        var path = Path.Combine(CliProcess.TempDir(), "truncated.pth");
        var bytes = File.ReadAllBytes(Checkpoint);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        AssertCleanError(Ground(Cli("image_0_256.png"), "qdaw", checkpoint: path), "truncated.pth");
    }

    [Fact]
    public void WrongVocabulary()
    {
        // The bundled bert-base-uncased vocab (30522 entries) does not belong to this 2000-token model.
        var vocab = Path.Combine(CliProcess.TempDir(), "bert-vocab.txt");
        using (var s = typeof(GroundSharp.Data.AlbefTokenizer).Assembly.GetManifestResourceStream("GroundSharp.bert-base-uncased-vocab.txt")!)
        using (var f = File.Create(vocab)) s.CopyTo(f);
        AssertCleanError(Ground(Cli("image_0_256.png"), "a dog", vocab: vocab), "vocab");
    }

    [Fact]
    public void MissingVocabulary() => AssertCleanError(Ground(Cli("image_0_256.png"), "qdaw", vocab: "/nonexistent/vocab.txt"), "/nonexistent/vocab.txt");

    [Fact]
    public void BadLayer() => AssertCleanError(Ground(Cli("image_0_256.png"), "qdaw", extra: ["--layer", "1"]), "layer");
}
