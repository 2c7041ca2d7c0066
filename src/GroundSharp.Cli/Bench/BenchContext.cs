using GroundSharp.Models;
using Spectre.Console;

namespace GroundSharp.Cli.Bench;

/// <summary>What every bench section is given: the model size, the repeats, and a scratch folder removed at the end.</summary>
internal sealed class BenchContext : IDisposable
{
    public BenchContext(string size, int repeats)
    {
        Size = size;
        Config = size switch
        {
            "base" => AlbefConfig.Base,
            "tiny" => AlbefConfig.Tiny,
            _ => throw new GroundSharpException($"--size must be base or tiny, not '{size}'"),
        };
        Repeats = repeats;
        Scratch = Path.Combine(Path.GetTempPath(), $"groundsharp-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(Scratch);
    }

    public string Size { get; }
    public AlbefConfig Config { get; }
    public int Repeats { get; }
    public string Scratch { get; }

    public static void Heading(string title) => AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());

    public void Dispose()
    {
        try { Directory.Delete(Scratch, recursive: true); } catch (IOException) { }
    }
}
