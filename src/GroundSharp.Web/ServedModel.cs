using GroundSharp.Data;
using GroundSharp.IO;
using GroundSharp.Models;
using GroundSharp.Rec;
using TorchSharp;

namespace GroundSharp.Web;

/// <summary>
/// The model a server grounds with and what to tell users about it: an ALBEF/AMC model and its tokenizer
/// (GradCAM heatmaps), or a REC checkpoint (the anchor box most similar to the phrase).
/// </summary>
public sealed class ServedModel : IDisposable
{
    public const string UntrainedNotice = ResolvedModel.UntrainedNotice;

    public ServedModel(AlbefModel model, AlbefTokenizer tokenizer, string checkpoint, string configSource, bool isUntrainedDemo)
    {
        Model = model;
        Tokenizer = tokenizer;
        Checkpoint = checkpoint;
        ConfigSource = configSource;
        IsUntrainedDemo = isUntrainedDemo;
    }

    public ServedModel(RecModel rec, string checkpoint)
    {
        Rec = rec;
        Checkpoint = checkpoint;
        ConfigSource = checkpoint + " (embedded config)";
    }

    /// <summary>The ALBEF model (GradCAM); null when a REC model is served.</summary>
    public AlbefModel? Model { get; }
    public AlbefTokenizer? Tokenizer { get; }
    /// <summary>The REC model; null when an ALBEF model is served.</summary>
    public RecModel? Rec { get; }
    /// <summary>"gradcam" or "rec".</summary>
    public string Method => Rec is null ? "gradcam" : "rec";
    /// <summary>The checkpoint path, or a description of a built-in model.</summary>
    public string Checkpoint { get; }
    public string ConfigSource { get; }
    public bool IsUntrainedDemo { get; }
    public string? Notice => IsUntrainedDemo ? UntrainedNotice : null;

    public void Dispose()
    {
        Model?.Dispose();
        Rec?.Dispose();
    }
}

/// <summary>Chooses what <c>groundsharp serve</c> serves.</summary>
public static class ServedModels
{
    /// <summary>
    /// The checkpoint given (a REC checkpoint is recognised by its metadata), else the shipped default model, else
    /// the untrained demo model (see <see cref="ResolvedModel"/>). <paramref name="rec"/>: true or false forces
    /// the method, null detects it.
    /// </summary>
    public static ServedModel Load(string? checkpoint, string? configPath, string? vocabPath, string device, bool? rec = null)
    {
        bool isRec = rec ?? (checkpoint is not null && RecGrounder.IsRecCheckpoint(checkpoint));
        if (!isRec)
        {
            if (rec is false && checkpoint is not null && RecGrounder.IsRecCheckpoint(checkpoint))
                throw new GroundSharpException($"'{checkpoint}' is a REC checkpoint, not an ALBEF model");
            return From(ResolvedModel.Resolve(checkpoint, configPath, vocabPath, device));
        }
        if (checkpoint is null) throw new GroundSharpException("serving a REC model needs its checkpoint (rec.safetensors)");
        if (configPath is not null || vocabPath is not null)
            throw new GroundSharpException("a REC checkpoint holds its own config and vocabulary; a separate config or vocabulary applies only to ALBEF models");
        CheckpointPath.RequireFile(checkpoint);
        var model = RecModel.Load(checkpoint);
        if (device != "cpu") model.to(torch.device(device));
        return new ServedModel(model, checkpoint);
    }

    /// <summary>The seeded random tiny model, whatever ships (tests use it for repeatable pages).</summary>
    public static ServedModel UntrainedDemo(string? vocabPath = null, string device = "cpu") =>
        From(ResolvedModel.Untrained(vocabPath is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(vocabPath), device));

    private static ServedModel From(ResolvedModel r) => new(r.Model, r.Tokenizer, r.Source, r.ConfigSource, isUntrainedDemo: r.IsUntrained);
}
