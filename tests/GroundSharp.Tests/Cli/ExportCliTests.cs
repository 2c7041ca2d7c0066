using GroundSharp.Models;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Cli;

[Trait("Category", "EndToEnd")]
public class ExportCliTests
{
    private static readonly string Checkpoint = FixtureData.PathOf("checkpoint.pth");
    private static readonly string Config = FixtureData.PathOf(Path.Combine("cli", "groundsharp-config.json"));

    [Fact]
    public void ExportWritesAFloat16ModelThatLoadsWithItsOwnConfigAndTheProvenance()
    {
        var dir = CliProcess.TempDir();
        var notes = Path.Combine(dir, "notes.md");
        File.WriteAllText(notes, "Trained by the test.");
        var outDir = Path.Combine(dir, "model");
        var r = CliProcess.Run("export", "--checkpoint", Checkpoint, "--config", Config, "--out", outDir, "--notes", notes);
        Assert.True(r.ExitCode == 0, r.StdErr);

        var provenance = File.ReadAllText(Path.Combine(outDir, "PROVENANCE.md"));
        Assert.Contains("groundsharp export", provenance);
        Assert.Contains("Trained by the test.", provenance);
        var (tensors, metadata) = GroundSharp.IO.SafeTensors.Load(Path.Combine(outDir, DefaultModel.ModelFile));
        Assert.All(tensors.Values, t => Assert.Equal(ScalarType.Float16, t.dtype));
        Assert.Contains(AlbefLoader.ConfigMetadataKey, metadata.Keys);
        foreach (var t in tensors.Values) t.Dispose();

        using var original = AlbefLoader.Load(Checkpoint, Config).Model;
        using var exported = AlbefLoader.Load(Path.Combine(outDir, DefaultModel.ModelFile)).Model;
        var w0 = original.itm_head.weight.detach();
        var w1 = exported.itm_head.weight.detach();
        Assert.True((w0 - w1).abs().max().item<float>() <= 1e-3f * Math.Max(1f, w0.abs().max().item<float>()));
    }

    [Fact]
    public void MissingNotesFileIsAnErrorAndWritesNothing()
    {
        var outDir = Path.Combine(CliProcess.TempDir(), "model");
        var r = CliProcess.Run("export", "--checkpoint", Checkpoint, "--config", Config, "--out", outDir, "--notes", "/nonexistent/notes.md");
        CliProcess.AssertCleanError(r, "--notes", "/nonexistent/notes.md");
        Assert.False(Directory.Exists(outDir));
    }
}
