using System.CommandLine;
using GroundSharp.Cli.Commands;

namespace GroundSharp.Cli;

public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("GroundSharp: visual grounding with ALBEF/AMC GradCAM explanations, in .NET.");
        root.Subcommands.Add(GroundCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(DemoCommand.Build());
        root.Subcommands.Add(TrainCommand.Build());
        return root;
    }
}
