using GroundSharp.Data;
using GroundSharp.Models;
using TorchSharp;

namespace GroundSharp.Web;

/// <summary>The model a server grounds with, its tokenizer, and what to tell users about it.</summary>
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

    public AlbefModel Model { get; }
    public AlbefTokenizer Tokenizer { get; }
    /// <summary>The checkpoint path, or a description of a built-in model.</summary>
    public string Checkpoint { get; }
    public string ConfigSource { get; }
    public bool IsUntrainedDemo { get; }
    public string? Notice => IsUntrainedDemo ? UntrainedNotice : null;

    public void Dispose() => Model.Dispose();
}

/// <summary>Chooses what <c>groundsharp serve</c> serves.</summary>
public static class ServedModels
{
    /// <summary>The checkpoint given, else the shipped default model, else the untrained demo model (see <see cref="ResolvedModel"/>).</summary>
    public static ServedModel Load(string? checkpoint, string? configPath, string? vocabPath, string device) =>
        From(ResolvedModel.Resolve(checkpoint, configPath, vocabPath, device));

    /// <summary>The seeded random tiny model, whatever ships (tests use it for repeatable pages).</summary>
    public static ServedModel UntrainedDemo(string? vocabPath = null, string device = "cpu") =>
        From(ResolvedModel.Untrained(vocabPath is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(vocabPath), device));

    private static ServedModel From(ResolvedModel r) => new(r.Model, r.Tokenizer, r.Source, r.ConfigSource, isUntrainedDemo: r.IsUntrained);
}
