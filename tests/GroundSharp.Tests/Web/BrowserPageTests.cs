using System.Diagnostics;
using GroundSharp.Web;
using Xunit;
using Xunit.Abstractions;

namespace GroundSharp.Tests.Web;

/// <summary>Where the browser test's tools are, and why it cannot run when they are not there.</summary>
public static class BrowserTestEnvironment
{
    public static string ChromiumPath => Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";

    /// <summary>The repository root (holds GroundSharp.sln), found upwards from the test binaries.</summary>
    public static string? RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "GroundSharp.sln"))) return dir.FullName;
            return null;
        }
    }

    public static string? BrowserTestDir => RepositoryRoot is { } root ? Path.Combine(root, "tests", "browser") : null;

    public static string? NodePath =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "node")).FirstOrDefault(File.Exists);

    /// <summary>What is missing to run the browser test, or null when everything is there.</summary>
    public static string? Missing()
    {
        if (NodePath is null) return "node is not on PATH";
        if (!File.Exists(ChromiumPath)) return $"{ChromiumPath} not found (apt-get install chromium)";
        if (BrowserTestDir is not { } dir) return "tests/browser not found above the test binaries";
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "playwright-core"))) return "playwright-core is not installed (cd tests/browser && npm ci)";
        return null;
    }

    /// <summary>CI installs the tools (.ci/run), so there a missing tool fails the test instead of skipping it.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A fact that is skipped, outside CI only, when node, chromium or playwright-core are not installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (!BrowserTestEnvironment.IsCi && BrowserTestEnvironment.Missing() is { } missing)
            Skip = "browser test skipped: " + missing + " (.ci/run installs it)";
    }
}

/// <summary>The page in a real browser: Debian chromium driven by playwright-core (tests/browser/serve-page.mjs).</summary>
[Trait("Category", "Web")]
[Trait("Category", "Browser")]
public class BrowserPageTests(ITestOutputHelper output)
{
    [BrowserFact]
    public async Task Page_uploads_an_image_grounds_phrases_and_draws_the_overlays()
    {
        Assert.True(BrowserTestEnvironment.Missing() is null, "browser test cannot run: " + BrowserTestEnvironment.Missing());
        var root = BrowserTestEnvironment.RepositoryRoot!;
        // What a user first sees: `serve` without --checkpoint, i.e. the shipped default model (docs/images/serve.png is this screenshot).
        await using var web = await WebTestServer.StartAsync(new ServeOptions(), ServedModels.Load(null, null, null, "cpu"));
        var image = Path.Combine(root, "src", "GroundSharp.Web", "wwwroot", "samples", "shapes-1.png");
        var screenshot = Path.Combine(AppContext.BaseDirectory, "browser", "serve.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);

        var psi = new ProcessStartInfo(BrowserTestEnvironment.NodePath!)
        {
            WorkingDirectory = BrowserTestEnvironment.BrowserTestDir!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "serve-page.mjs", web.BaseUrl, image, screenshot }) psi.ArgumentList.Add(a);
        psi.Environment["CHROMIUM_PATH"] = BrowserTestEnvironment.ChromiumPath;
        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await node.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { node.Kill(entireProcessTree: true); throw new TimeoutException("the browser test did not finish in 3 minutes"); }
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);

        Assert.True(node.ExitCode == 0, $"browser test failed (exit {node.ExitCode}):\n{await stdout}\n{await stderr}");
        Assert.Contains("\"passed\":true", await stdout);
        var png = File.ReadAllBytes(screenshot);
        Assert.True(png.Length > 10_000, $"screenshot is only {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        output.WriteLine("screenshot: " + screenshot);
    }
}
