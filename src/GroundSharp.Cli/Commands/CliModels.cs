using GroundSharp.Models;

namespace GroundSharp.Cli.Commands;

/// <summary>Resolves the model of a command and tells the user which one runs (and loudly when it is untrained).</summary>
public static class CliModels
{
    public static ResolvedModel Resolve(string? checkpoint, string? configPath, string? vocabPath, string device)
    {
        var model = ResolvedModel.Resolve(checkpoint, configPath, vocabPath, device);
        if (model.Report is not null) Console.Error.WriteLine(model.Report.Summary(model.Source));
        if (model.IsUntrained) Console.Error.WriteLine($"warning: {ResolvedModel.UntrainedNotice} ({model.Source}); pass --checkpoint");
        return model;
    }
}
