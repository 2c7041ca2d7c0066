using GroundSharp.Data;
using GroundSharp.Models;
using TorchSharp;

namespace GroundSharp.Web;

/// <summary>The model a server grounds with, its tokenizer, and what to tell users about it.</summary>
public sealed class ServedModel : IDisposable
{
    public const string UntrainedNotice = "untrained demo model: heatmaps are not meaningful";

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
    /// <summary>Seed of the untrained demo model's weights, so that its (meaningless) heatmaps repeat.</summary>
    public const int DemoSeed = 7;

    public static AlbefConfig DemoConfig => AlbefConfig.Tiny;

    /// <summary>The checkpoint given, or the built-in default when there is none.</summary>
    public static ServedModel Load(string? checkpoint, string? configPath, string? vocabPath, string device)
    {
        if (checkpoint is null)
        {
            if (configPath is not null) throw new GroundSharpException("--config needs --checkpoint (the built-in model has its own config)");
            return BuiltInDefault(vocabPath, device);
        }
        var tokenizer = vocabPath is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(vocabPath);
        var loaded = AlbefLoader.Load(checkpoint, configPath, device);
        return new ServedModel(loaded.Model, tokenizer, checkpoint, loaded.ConfigSource, isUntrainedDemo: false);
    }

    /// <summary>
    /// What serves when no --checkpoint is given. No trained model ships yet, so this is the seeded random demo
    /// model; when an embedded trained model exists, returning it here is the only change needed.
    /// </summary>
    public static ServedModel BuiltInDefault(string? vocabPath, string device) => UntrainedDemo(vocabPath, device);

    public static ServedModel UntrainedDemo(string? vocabPath = null, string device = "cpu")
    {
        var tokenizer = vocabPath is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(vocabPath);
        var dev = AlbefLoader.ResolveDevice(device);
        var model = new AlbefModel(DemoConfig, seed: DemoSeed);
        model.eval();
        if (dev.type != DeviceType.CPU) model.to(dev);
        return new ServedModel(model, tokenizer, $"built-in untrained demo model (tiny ALBEF, random weights, seed {DemoSeed})",
                               "built-in tiny config", isUntrainedDemo: true);
    }
}
