using System.CommandLine;
using GroundSharp.IO;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp models list | pull NAME | path NAME</c>: the published checkpoints by name (docs/models.md).</summary>
public static class ModelsCommand
{
    public static Command Build()
    {
        var list = new Command("list", "The published checkpoints GroundSharp knows, their sizes and whether they are downloaded.");
        list.SetAction(_ => CliRunner.Run(List, usesTorch: false));

        var pullName = new Argument<string>("name") { Description = "a model name from 'groundsharp models list'" };
        var file = new Option<string?>("--file") { Description = "add a file downloaded by hand (models published behind a share page) instead of downloading" };
        var pull = new Command("pull", "Download a checkpoint into the cache (resumes an interrupted download; verifies one already there).") { pullName, file };
        pull.SetAction((r, cancel) => Task.FromResult(CliRunner.Run(() => Pull(r.GetValue(pullName)!, r.GetValue(file), cancel), usesTorch: false)));

        var pathName = new Argument<string>("name") { Description = "a model name from 'groundsharp models list'" };
        var path = new Command("path", "Print the local path of a downloaded checkpoint.") { pathName };
        path.SetAction(r => CliRunner.Run(() => { Console.WriteLine(ModelRegistry.FromEnvironment().LocalPath(r.GetValue(pathName)!)); return 0; }, usesTorch: false));

        return new Command("models", "Published checkpoints by name: list, pull (download into $GROUNDSHARP_HOME, else the platform's cache folder), path. Any --checkpoint or --detector also takes a name.")
        {
            list, pull, path,
        };
    }

    private static int List()
    {
        var registry = ModelRegistry.FromEnvironment();
        var table = new Table().AddColumns("name", "kind", "size", "downloaded", "description");
        foreach (var m in registry.Models)
        {
            var record = registry.RecordOf(m);
            string size = m.SizeBytes is { } s ? ModelRegistry.FormatBytes(s) : record is not null ? ModelRegistry.FormatBytes(record.SizeBytes) : "?";
            string where = record is not null && File.Exists(registry.PathOf(m)) ? "yes" : m.Url is null ? "no (share page: pull --file)" : "no";
            table.AddRow(CliRunner.Esc(m.Name), CliRunner.Esc(m.Kind), size, where, CliRunner.Esc(m.Description));
        }
        AnsiConsole.Write(table);
        Console.WriteLine($"cache: {registry.Home}");
        return 0;
    }

    private static int Pull(string name, string? file, CancellationToken cancel)
    {
        var registry = ModelRegistry.FromEnvironment();
        var model = registry.Get(name);
        if (file is not null)
        {
            Console.WriteLine(registry.Import(name, file));
            return 0;
        }
        bool already = File.Exists(registry.PathOf(model)) && registry.RecordOf(model) is not null;
        if (already) Console.Error.WriteLine($"{name} is downloaded; checking its SHA-256");
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("groundsharp");
        string path = "";
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(CliRunner.Esc(name), autoStart: true);
                task.IsIndeterminate = true;
                var progress = new SynchronousProgress(p =>
                {
                    if (p.Total is { } total) { task.IsIndeterminate = false; task.MaxValue = total; }
                    if (p.FetchedThisRun == 0 && p.Resumed) task.Description = CliRunner.Esc($"{name} (resuming at {ModelRegistry.FormatBytes(p.Bytes)})");
                    task.Value = p.Bytes;
                });
                path = registry.PullAsync(name, http, progress, cancel).GetAwaiter().GetResult();
                task.Value = task.MaxValue;
                task.StopTask();
            });
        Console.WriteLine(path);
        return 0;
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }

    /// <summary>A --checkpoint / --detector / --init value: a file or folder as given, else a registry name's downloaded file.</summary>
    public static string? ResolveArgument(string? value)
    {
        if (value is null || File.Exists(value) || Directory.Exists(value)) return value;
        if (value.IndexOfAny(['/', '\\', '.']) >= 0) return value; // a path that does not exist: the caller says so
        var registry = ModelRegistry.FromEnvironment();
        return registry.Find(value) is null ? value : registry.LocalPath(value);
    }
}
