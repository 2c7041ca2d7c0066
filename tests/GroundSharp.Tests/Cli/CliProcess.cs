using System.Diagnostics;

namespace GroundSharp.Tests.Cli;

/// <summary>Runs the real CLI (GroundSharp.Cli.dll next to the tests) as a child process.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(params string[] args) => RunWithEnvironment(new Dictionary<string, string>(), args);

    /// <summary>Runs the CLI with extra environment variables (e.g. GROUNDSHARP_HOME for the model registry).</summary>
    public static Result RunWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "GroundSharp.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["COLUMNS"] = "200";
        psi.Environment.Remove("GROUNDSHARP_DEBUG");
        foreach (var (key, value) in environment) psi.Environment[key] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("CLI did not finish: " + string.Join(' ', args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A clean failure: exit code 2, exactly one <c>error:</c> line holding every given text, no stack trace.</summary>
    public static void AssertCleanError(Result r, params string[] mustContain)
    {
        Xunit.Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith("error:")).ToList();
        Xunit.Assert.True(errors.Count == 1, "stderr: " + r.StdErr);
        Xunit.Assert.DoesNotContain("   at ", r.StdErr);
        Xunit.Assert.DoesNotContain("Exception", r.StdErr);
        foreach (var s in mustContain) Xunit.Assert.Contains(s, errors[0]);
    }

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "groundsharp-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
