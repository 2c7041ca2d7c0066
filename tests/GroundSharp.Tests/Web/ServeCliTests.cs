using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using GroundSharp.Tests.Cli;
using GroundSharp.Web;
using Xunit;

namespace GroundSharp.Tests.Web;

/// <summary><c>groundsharp serve</c> as a user starts it: the real CLI in a child process.</summary>
[Trait("Category", "Web")]
public class ServeCliTests
{
    [Fact]
    public async Task Serve_without_checkpoint_serves_the_shipped_model_or_says_the_model_is_untrained()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "GroundSharp.Cli.dll"), "serve", "--urls", "http://127.0.0.1:0", "--max-concurrency", "1" })
            psi.ArgumentList.Add(a);
        using var server = Process.Start(psi)!;
        var console = new List<string>();
        try
        {
            string? url = null;
            using var startup = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (url is null)
            {
                var line = await server.StandardOutput.ReadLineAsync(startup.Token)
                    ?? throw new InvalidOperationException("serve exited: " + string.Join('\n', console) + await server.StandardError.ReadToEndAsync());
                console.Add(line);
                if (line.StartsWith("listening on ", StringComparison.Ordinal)) url = line["listening on ".Length..];
            }
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            var model = await client.GetFromJsonAsync<JsonElement>("/api/model");
            // A build with models/default serves it; one without says loudly that its model is untrained.
            bool shipsModel = GroundSharp.Models.DefaultModel.Locate() is not null;
            if (shipsModel)
            {
                Assert.Contains(console, l => l.StartsWith("model: the default model", StringComparison.Ordinal));
                Assert.DoesNotContain(console, l => l.Contains(ServedModel.UntrainedNotice));
                Assert.False(model.GetProperty("untrained").GetBoolean());
            }
            else
            {
                Assert.Contains(console, l => l.Contains(ServedModel.UntrainedNotice));
                Assert.Contains(console, l => l.StartsWith("model: built-in untrained demo model", StringComparison.Ordinal));
                Assert.True(model.GetProperty("untrained").GetBoolean());
                Assert.Equal(ServedModel.UntrainedNotice, model.GetProperty("notice").GetString());
            }
            Assert.Equal(1, model.GetProperty("limits").GetProperty("maxConcurrency").GetInt32());
            Assert.Equal(2, model.GetProperty("limits").GetProperty("maxQueue").GetInt32());
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData("--max-concurrency", "0", "--max-concurrency must be >= 1")]
    [InlineData("--max-upload-mb", "0", "--max-upload-mb must be > 0")]
    [InlineData("--config", "c.json", "--config needs --checkpoint")]
    [InlineData("--checkpoint", "missing.pth", "checkpoint not found")]
    public void Bad_options_are_one_line_errors(string option, string value, string message)
    {
        var r = CliProcess.Run("serve", "--urls", "http://127.0.0.1:0", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
    }
}
