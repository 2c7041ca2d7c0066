using System.CommandLine;
using GroundSharp.Web;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp serve</c>: the local web demo (page + JSON API) over one model.</summary>
public static class ServeCommand
{
    public static Command Build()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "ALBEF/AMC checkpoint (.pth or .safetensors) or a REC checkpoint; default: the shipped model" };
        var config = new Option<string?>("--config") { Description = "model config JSON (default: stored in the checkpoint, groundsharp-config.json beside it, or ALBEF-base)" };
        var vocab = new Option<string?>("--vocab") { Description = "BERT vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var urls = new Option<string>("--urls") { Description = "address(es) to listen on, ';'-separated (port 0 = any free port)", DefaultValueFactory = _ => "http://127.0.0.1:5000" };
        var maxUpload = new Option<double>("--max-upload-mb") { Description = "largest accepted upload in MiB (larger: 413)", DefaultValueFactory = _ => ServeOptions.DefaultMaxUploadBytes / (1024.0 * 1024) };
        var maxConcurrency = new Option<int>("--max-concurrency") { Description = "requests processed at once; 2x as many may wait, the rest get 503", DefaultValueFactory = _ => ServeOptions.DefaultMaxConcurrency };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var verbose = new Option<bool>("--log-requests") { Description = "log every request on the console" };
        var method = new Option<string>("--method") { Description = CliModels.MethodDescription, DefaultValueFactory = _ => "auto" };
        var cmd = new Command("serve", "Serve a local web page and JSON API: upload an image, type phrases, see where they are.")
        {
            checkpoint, config, vocab, urls, maxUpload, maxConcurrency, device, verbose, method,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(
            ModelsCommand.ResolveArgument(r.GetValue(checkpoint)), r.GetValue(config), r.GetValue(vocab), r.GetValue(urls)!,
            r.GetValue(maxUpload), r.GetValue(maxConcurrency), r.GetValue(device)!, r.GetValue(verbose),
            CliModels.UsesRec(r.GetValue(method)!, ModelsCommand.ResolveArgument(r.GetValue(checkpoint)), (r.GetValue(config) is not null, "--config"), (r.GetValue(vocab) is not null, "--vocab")))));
        return cmd;
    }

    public static int Execute(string? checkpoint, string? configPath, string? vocabPath, string urls, double maxUploadMb,
                              int maxConcurrency, string device, bool logRequests, bool rec = false)
    {
        if (!(maxUploadMb > 0) || maxUploadMb > 1024) throw new GroundSharpException("--max-upload-mb must be > 0 and <= 1024");
        var options = new ServeOptions
        {
            Urls = urls,
            MaxUploadBytes = (long)(maxUploadMb * 1024 * 1024),
            MaxConcurrency = maxConcurrency,
            LogRequests = logRequests,
        };
        options.Validate();
        using var model = ServedModels.Load(checkpoint, configPath, vocabPath, device, rec);
        Console.WriteLine($"model: {model.Checkpoint} (config: {model.ConfigSource})");
        if (model.Notice is not null)
            Console.WriteLine($"NOTE: {model.Notice} (this build ships no trained model; pass --checkpoint for a real one)");

        var server = GroundingServer.Create(model, options);
        try
        {
            server.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            throw new GroundSharpException($"cannot listen on {urls}: {e.Message}", e);
        }
        foreach (var address in server.Addresses) Console.WriteLine($"listening on {address}");
        Console.WriteLine($"limits: upload {maxUploadMb:0.##} MiB, {options.MaxPixels} pixels, {options.MaxPhrases} phrases of <= {options.MaxPhraseLength} chars, " +
                          $"{options.MaxConcurrency} running + {options.EffectiveMaxQueue} waiting (then 503). Ctrl+C stops.");
        Console.Out.Flush();
        server.WaitForShutdownAsync().GetAwaiter().GetResult();
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }
}
