using GroundSharp.IO;
using GroundSharp.Models;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// Loading an ALBEF <c>.pth</c>, as <c>ground --checkpoint</c> does first thing in a new process, against reading the
/// file's bytes in a new process. Both run in fresh worker processes (timed inside them, libtorch already up, the file
/// in the page cache), so both pay the page faults of memory touched for the first time, as a real load does.
/// </summary>
internal static class LoadBench
{
    public const double Goal = 2.0;

    public static void Run(BenchContext ctx, AlbefModel model)
    {
        BenchContext.Heading($"checkpoint load: ALBEF-{ctx.Size} .pth vs reading its bytes, each in a fresh process (page cache warm)");
        string path = Path.Combine(ctx.Scratch, $"albef-{ctx.Size}.pth");
        var sd = model.state_dict();
        TorchCheckpointWriter.SaveCheckpoint(path, sd);
        // The config beside the checkpoint, where the loader looks for it (ALBEF-base needs none: it is the default).
        File.WriteAllText(Path.Combine(ctx.Scratch, "groundsharp-config.json"), model.Config.ToJson());
        long bytes = new FileInfo(path).Length;
        // Alternating, best of a few: page-fault costs vary from process to process.
        int repeats = ctx.Repeats + 1;
        double read = double.MaxValue, load = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            read = Math.Min(read, BenchWorkers.Run(ctx, BenchWorkers.Task.Read, threads: null, file: path));
            load = Math.Min(load, BenchWorkers.Run(ctx, BenchWorkers.Task.Load, threads: null, file: path));
        }
        var table = new Table().AddColumns("in a fresh process", "time", "ratio to reading the bytes");
        table.AddRow($"read its {Measure.Mib(bytes)} into one new tensor", Measure.Ms(read), "1.00x");
        table.AddRow("AlbefLoader.Load: parse, build the model (no initial values), adopt the tensors", Measure.Ms(load), Measure.Ratio(load / read, Goal));
        AnsiConsole.Write(table);
        File.Delete(path);
    }
}
