using System.Diagnostics;
using GroundSharp.IO;
using GroundSharp.Models;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>Loading an ALBEF <c>.pth</c> (what <c>ground --checkpoint</c> waits for) against reading the file's bytes.</summary>
internal static class LoadBench
{
    public const double Goal = 2.0;

    public static void Run(BenchContext ctx, AlbefModel model)
    {
        BenchContext.Heading($"checkpoint load: ALBEF-{ctx.Size} .pth vs reading its bytes (page cache warm)");
        string path = Path.Combine(ctx.Scratch, $"albef-{ctx.Size}.pth");
        var sd = model.state_dict();
        TorchCheckpointWriter.SaveCheckpoint(path, sd);
        // The config beside the checkpoint, where the loader looks for it (ALBEF-base needs none: it is the default).
        File.WriteAllText(Path.Combine(ctx.Scratch, "groundsharp-config.json"), model.Config.ToJson());
        long bytes = new FileInfo(path).Length;
        // Page faults make both vary from run to run: the best of a few more repeats than elsewhere.
        int repeats = ctx.Repeats + 2;
        double read = Measure.BestOf(repeats, () =>
        {
            // Into fresh memory, as a load must: the floor includes the page faults of memory the weights will occupy.
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var buffer = GC.AllocateUninitializedArray<byte>(checked((int)bytes));
            f.ReadExactly(buffer);
        });
        double load = Measure.BestOf(repeats, () =>
        {
            var loaded = AlbefLoader.Load(path);
            loaded.Model.Dispose();
        });
        // Where the time goes: the three parts of a load, each timed alone.
        double build = Measure.BestOf(ctx.Repeats, () => new AlbefModel(ctx.Config, initialise: false).Dispose());
        double parse = Measure.BestOf(ctx.Repeats, () => { foreach (var t in TorchCheckpointReader.LoadStateDict(path).Values) t.Dispose(); });
        var table = new Table().AddColumns("step", "time", "ratio to reading the bytes");
        table.AddRow($"read {Measure.Mib(bytes)} into one new buffer", Measure.Ms(read), "1.00x");
        table.AddRow("AlbefLoader.Load (parse, build the model, copy the weights)", Measure.Ms(load), Measure.Ratio(load / read, Goal));
        table.AddRow("  of which: build the model (allocated, no initial values)", Measure.Ms(build), Measure.F(build / read) + "x");
        table.AddRow("  of which: parse the .pth into tensors", Measure.Ms(parse), Measure.F(parse / read) + "x");
        AnsiConsole.Write(table);
        File.Delete(path);
    }
}
