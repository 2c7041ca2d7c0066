using System.CommandLine;
using System.CommandLine.Parsing;
using GroundSharp.Cli.Commands;

namespace GroundSharp.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Redirected output (logs, CI) gets a wide table instead of Spectre's 80-column default.
        if (Console.IsOutputRedirected)
            Spectre.Console.AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var c) && c > 40 ? c : 160;
        var parsed = BuildRoot().Parse(args);
        if (parsed.Errors.Count > 0) return ParseFailed(parsed);
        CliRunner.Threads = parsed.GetValue(ThreadsOption);
        return parsed.Invoke();
    }

    /// <summary>A command line that does not parse is a user error like any other: one error line and exit code 2, not the help.</summary>
    private static int ParseFailed(ParseResult parsed)
    {
        // An unknown word explains "required command was not provided" too, so it is the one reported.
        var first = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized")) ?? parsed.Errors[0];
        string message = first.SymbolResult is OptionResult { Tokens.Count: > 0 } option && first.Message.StartsWith("Cannot parse")
            ? $"{option.Option.Name} {option.Tokens[^1].Value}: expected {ValueDescriptions.Of(option.Option.ValueType)}"
            : first.Message;
        Console.Error.WriteLine("error: " + message);
        var names = new List<string>();
        for (var c = parsed.CommandResult; c.Parent is CommandResult parent; c = parent) names.Insert(0, c.Command.Name);
        Console.Error.WriteLine($"(see 'groundsharp {string.Join(' ', names.Append("--help"))}')");
        return CliRunner.UserError;
    }

    /// <summary>Every command's <c>--threads</c> (docs/threads.md).</summary>
    public static readonly Option<int?> ThreadsOption = new("--threads")
    {
        Description = $"torch intra-op threads (default: ${TorchThreads.EnvironmentVariable}, else OMP_NUM_THREADS, else the cores this process may use)",
        Recursive = true,
    };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("GroundSharp: visual grounding with ALBEF/AMC GradCAM explanations, in .NET.");
        root.Options.Add(ThreadsOption);
        root.Subcommands.Add(GroundCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(DemoCommand.Build());
        root.Subcommands.Add(EvalCommand.Build());
        root.Subcommands.Add(PrepareVgCommand.Build());
        root.Subcommands.Add(PrepareRefcocoCommand.Build());
        root.Subcommands.Add(ModelsCommand.Build());
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(ExportCommand.Build());
        root.Subcommands.Add(SynthCommand.Build());
        root.Subcommands.Add(ExperimentCommand.Build());
        root.Subcommands.Add(TrainDetectorCommand.Build());
        root.Subcommands.Add(ProposeCommand.Build());
        root.Subcommands.Add(TrainRecCommand.Build());
        return root;
    }
}
