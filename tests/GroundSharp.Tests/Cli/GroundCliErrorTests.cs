using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary>Bad inputs to <c>groundsharp ground</c>: one clear error line, a non-zero exit, never a stack trace.</summary>
[Trait("Category", "EndToEnd")]
public class GroundCliErrorTests
{
    private static string Cli(string f) => FixtureData.PathOf(Path.Combine("cli", f));
    private static readonly string Checkpoint = FixtureData.PathOf("checkpoint.pth");

    private static void AssertCleanError(CliProcess.Result r, params string[] mustContain) => CliProcess.AssertCleanError(r, mustContain);

    private static CliProcess.Result Ground(string image, string text, string? checkpoint = null, string? vocab = null) =>
        CliProcess.Run("ground", "--checkpoint", checkpoint ?? Checkpoint, "--config", Cli("groundsharp-config.json"),
            "--vocab", vocab ?? Cli("vocab.txt"), "--image", image, "--text", text, "--out", CliProcess.TempDir());

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
    public void BadLayer()
    {
        var r = CliProcess.Run("ground", "--checkpoint", Checkpoint, "--config", Cli("groundsharp-config.json"), "--vocab", Cli("vocab.txt"),
            "--image", Cli("image_0_256.png"), "--text", "qdaw", "--layer", "1", "--out", CliProcess.TempDir());
        AssertCleanError(r, "layer");
    }
}
