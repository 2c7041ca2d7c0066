using GroundSharp.Models;

namespace GroundSharp.Cli.Commands;

/// <summary>Resolves the model of a command and tells the user which one runs (and loudly when it is untrained).</summary>
public static class CliModels
{
    public const string MethodDescription = "auto (from the checkpoint), gradcam (ALBEF/AMC heatmaps) or rec (a REC checkpoint: the anchor box most similar to the phrase)";

    /// <summary>--method: true = rec, false = gradcam, null = auto (detected from the checkpoint's metadata).</summary>
    public static bool? ParseMethod(string method) => method switch
    {
        "auto" => null,
        "gradcam" => false,
        "rec" => true,
        _ => throw new GroundSharpException($"--method '{method}' is unknown (auto, gradcam, rec)"),
    };

    /// <summary>Whether to ground with REC: the method given, else what the checkpoint is; a REC checkpoint with --method gradcam is refused.</summary>
    public static bool UsesRec(string method, string? checkpoint, params (bool Given, string Flag)[] gradCamOnly)
    {
        bool isRecCheckpoint = checkpoint is not null && Rec.RecGrounder.IsRecCheckpoint(checkpoint);
        bool rec = ParseMethod(method) ?? isRecCheckpoint;
        if (!rec && isRecCheckpoint) throw new GroundSharpException($"'{checkpoint}' is a REC checkpoint: use --method rec (or leave --method out)");
        var given = gradCamOnly.Where(x => x.Given).Select(x => x.Flag).ToList();
        if (rec && given.Count > 0)
            throw new GroundSharpException($"{string.Join(", ", given)}: only for GradCAM grounding (a REC checkpoint holds its config, vocabulary and detector)");
        if (rec && checkpoint is null) throw new GroundSharpException("--checkpoint is required with --method rec: a REC checkpoint (rec.safetensors from 'groundsharp experiment rec')");
        return rec;
    }

    public static ResolvedModel Resolve(string? checkpoint, string? configPath, string? vocabPath, string device)
    {
        var model = ResolvedModel.Resolve(checkpoint, configPath, vocabPath, device);
        if (model.Report is not null) Console.Error.WriteLine(model.Report.Summary(model.Source));
        if (model.IsUntrained) Console.Error.WriteLine($"warning: {ResolvedModel.UntrainedNotice} ({model.Source}); pass --checkpoint");
        return model;
    }
}
