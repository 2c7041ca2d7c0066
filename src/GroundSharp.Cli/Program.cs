using System.CommandLine;
using GroundSharp.Cli.Commands;

namespace GroundSharp.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Redirected output (logs, CI) gets a wide table instead of Spectre's 80-column default.
        if (Console.IsOutputRedirected)
            Spectre.Console.AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var c) && c > 40 ? c : 160;
        return BuildRoot().Parse(args).Invoke();
    }

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("GroundSharp: visual grounding with ALBEF/AMC GradCAM explanations, in .NET.");
        root.Subcommands.Add(GroundCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(DemoCommand.Build());
        root.Subcommands.Add(EvalCommand.Build());
        root.Subcommands.Add(PrepareVgCommand.Build());
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(SynthCommand.Build());
        root.Subcommands.Add(ExperimentCommand.Build());
        root.Subcommands.Add(TrainDetectorCommand.Build());
        return root;
    }
}
