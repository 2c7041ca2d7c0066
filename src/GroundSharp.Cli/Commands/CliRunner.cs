using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary>Runs a command body; user errors become one line on stderr and exit code 2, never a stack trace.</summary>
public static class CliRunner
{
    public const int UserError = 2;
    public const int InternalError = 70;

    /// <summary>The root's <c>--threads</c> (null: <see cref="TorchThreads"/>' default), set once the command line parsed.</summary>
    public static int? Threads { get; set; }

    /// <summary>Whether the command uses libtorch at all (synth does not, and need not load it).</summary>
    public static int Run(Func<int> body, bool usesTorch = true)
    {
        try
        {
            if (usesTorch) TorchThreads.Apply(Threads);
            return body();
        }
        catch (GroundSharpException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return UserError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return UserError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("GROUNDSHARP_DEBUG") == "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("(set GROUNDSHARP_DEBUG=1 for the stack trace, and please report it)");
            return InternalError;
        }
    }

    /// <summary>Text that Spectre must not interpret as markup.</summary>
    public static string Esc(string s) => Markup.Escape(s);
}
