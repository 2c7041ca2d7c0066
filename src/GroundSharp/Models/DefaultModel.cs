using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Models;

/// <summary>
/// The small AMC-trained model that ships with GroundSharp (models/default/ in the repository, copied next to
/// the binaries as default-model/): used by <c>ground</c>, <c>eval</c>, <c>serve</c> and <c>demo</c> when no
/// checkpoint is given. Its provenance (command, seed, commit, results) is in PROVENANCE.md beside it.
/// </summary>
public static class DefaultModel
{
    public const string FolderName = "default-model";
    public const string ModelFile = "model.safetensors";
    public const string VocabFile = "vocab.txt";
    public const string ProvenanceFile = "PROVENANCE.md";

    public static string Folder => Path.Combine(AppContext.BaseDirectory, FolderName);

    /// <summary>The checkpoint path, or null when this build ships no default model.</summary>
    public static string? Locate()
    {
        var path = Path.Combine(Folder, ModelFile);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The vocabulary the default model was trained with (null = the bundled bert-base-uncased).</summary>
    public static string? VocabPath
    {
        get
        {
            var path = Path.Combine(Folder, VocabFile);
            return File.Exists(path) ? path : null;
        }
    }

    /// <summary>
    /// Writes a model for shipping: its parameters in float16 (half the size; values are converted back to
    /// the model's dtype on load), the tied MLM decoder weight once, the config and provenance in the metadata,
    /// and <paramref name="provenanceMarkdown"/> as PROVENANCE.md beside it.
    /// </summary>
    public static void Export(AlbefModel model, string folder, IReadOnlyDictionary<string, string> provenance, string provenanceMarkdown)
    {
        Directory.CreateDirectory(folder);
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name == "text_encoder.cls.predictions.decoder.weight") continue; // tied to the word embeddings
                tensors[name] = p.detach().to_type(ScalarType.Float16).cpu();
            }
            var metadata = new Dictionary<string, string>(provenance)
            {
                [AlbefLoader.ConfigMetadataKey] = model.Config.ToJson(),
                ["format"] = "groundsharp-albef",
            };
            IO.SafeTensors.Save(Path.Combine(folder, ModelFile), tensors, metadata);
            IO.AtomicFile.WriteAllText(Path.Combine(folder, ProvenanceFile), provenanceMarkdown);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}

/// <summary>The model a command runs: the given checkpoint, else the shipped default, else an untrained tiny one.</summary>
public sealed record ResolvedModel(AlbefModel Model, Data.AlbefTokenizer Tokenizer, string Source, string ConfigSource, bool IsUntrained, WeightLoadReport? Report)
{
    public const string UntrainedNotice = "untrained demo model: heatmaps are not meaningful";
    public const int UntrainedSeed = 7;

    public static ResolvedModel Resolve(string? checkpoint, string? configPath, string? vocabPath, string device)
    {
        Data.AlbefTokenizer Tokenizer(string? fallbackVocab) =>
            vocabPath is not null ? Data.AlbefTokenizer.FromVocab(vocabPath)
            : fallbackVocab is not null ? Data.AlbefTokenizer.FromVocab(fallbackVocab)
            : Data.AlbefTokenizer.Default;

        if (checkpoint is null && configPath is not null)
            throw new GroundSharpException("--config needs --checkpoint (the default model carries its own config)");
        var path = checkpoint ?? DefaultModel.Locate();
        if (path is not null)
        {
            var loaded = AlbefLoader.Load(path, configPath, device);
            var source = checkpoint ?? $"the default model ({path})";
            return new ResolvedModel(loaded.Model, Tokenizer(checkpoint is null ? DefaultModel.VocabPath : null), source, loaded.ConfigSource, false, loaded.Report);
        }
        return Untrained(Tokenizer(null), device);
    }

    /// <summary>A tiny ALBEF with seeded random weights: shows the pipeline, not grounding.</summary>
    public static ResolvedModel Untrained(Data.AlbefTokenizer tokenizer, string device = "cpu")
    {
        var dev = AlbefLoader.ResolveDevice(device);
        var model = new AlbefModel(AlbefConfig.Tiny, seed: UntrainedSeed);
        model.eval();
        if (dev.type != DeviceType.CPU) model.to(dev);
        return new ResolvedModel(model, tokenizer, $"built-in untrained demo model (tiny ALBEF, random weights, seed {UntrainedSeed})",
            "built-in tiny config", true, null);
    }
}
