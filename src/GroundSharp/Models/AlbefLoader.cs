using GroundSharp.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Models;

/// <summary>An ALBEF model ready for inference, with where its weights and configuration came from.</summary>
public sealed record LoadedAlbef(AlbefModel Model, WeightLoadReport Report, string CheckpointPath, string ConfigSource);

/// <summary>Builds an <see cref="AlbefModel"/> from a checkpoint (.pth from PyTorch, or our .safetensors) and a config.</summary>
public static class AlbefLoader
{
    /// <summary>safetensors metadata key under which our checkpoints store their config JSON.</summary>
    public const string ConfigMetadataKey = "groundsharp_config";

    /// <summary>
    /// Config resolution: <paramref name="configPath"/> if given; else the config stored in a .safetensors
    /// checkpoint; else <c>groundsharp-config.json</c> next to the checkpoint; else the ALBEF-base defaults.
    /// </summary>
    public static LoadedAlbef Load(string checkpointPath, string? configPath = null, string device = "cpu", bool strict = true)
    {
        CheckpointPath.RequireFile(checkpointPath);
        var dev = ResolveDevice(device);
        bool isSafetensors = checkpointPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
        Dictionary<string, Tensor> stateDict;
        Dictionary<string, string>? metadata = null;
        if (isSafetensors) (stateDict, metadata) = SafeTensors.Load(checkpointPath);
        else stateDict = TorchCheckpointReader.LoadStateDict(checkpointPath);
        try
        {
            if (metadata is not null && metadata.ContainsKey(Rec.RecModel.ConfigMetadataKey))
                throw new GroundSharpException($"'{checkpointPath}' is a GroundSharp REC checkpoint (anchor-based REC), not an ALBEF model");
            if (metadata is not null && metadata.ContainsKey(Rec.YoloV3.ConfigMetadataKey))
                throw new GroundSharpException($"'{checkpointPath}' is a GroundSharp detector checkpoint (YOLOv3), not an ALBEF model");
            AlbefConfig config;
            string configSource;
            string sibling = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!, "groundsharp-config.json");
            if (configPath is not null) { config = AlbefConfig.Load(configPath); configSource = configPath; }
            else if (metadata is not null && metadata.TryGetValue(ConfigMetadataKey, out var json)) { config = AlbefConfig.Parse(json, checkpointPath + " (embedded config)"); configSource = checkpointPath + " (embedded config)"; }
            else if (File.Exists(sibling)) { config = AlbefConfig.Load(sibling); configSource = sibling; }
            else { config = AlbefConfig.Base; configSource = "ALBEF-base defaults"; }

            // A strict load overwrites every weight or fails, so no initial value is drawn (the parameters take the
            // checkpoint's tensors as they are); a lenient one keeps ALBEF's initialisation for the weights it lacks.
            var model = new AlbefModel(config, initialise: !strict);
            var report = AlbefWeights.Load(model, stateDict, strict, checkpointPath, adopt: strict);
            if (strict)
            {
                // What a strict load may leave out (a grounding checkpoint without the MLM head) gets ALBEF's initialisation.
                var loaded = report.Loaded.ToHashSet();
                var rest = model.named_parameters().Select(p => p.name).Where(n => !loaded.Contains(n) && !AlbefWeights.IsTiedToLoaded(n, loaded)).ToHashSet();
                if (rest.Count > 0) model.InitWeights(seed: 0, rest);
            }
            model.eval();
            if (dev.type != DeviceType.CPU) model.to(dev);
            return new LoadedAlbef(model, report, checkpointPath, configSource);
        }
        finally
        {
            foreach (var t in stateDict.Values) t.Dispose();
        }
    }

    /// <summary>"cpu" or "cuda[:N]"; fails clearly when CUDA is asked for but this libtorch has none.</summary>
    public static Device ResolveDevice(string device)
    {
        TorchRuntime.EnsureLoaded();
        var d = device.Trim().ToLowerInvariant();
        if (d == "cpu") return CPU;
        if (d.StartsWith("cuda"))
        {
            if (!cuda.is_available())
                throw new GroundSharpException("--device cuda: no CUDA device is usable by this build (it ships TorchSharp-cpu; reference the TorchSharp-cuda-linux package instead and run on a machine with an NVIDIA GPU)");
            return torch.device(d);
        }
        throw new GroundSharpException($"unknown device '{device}' (use cpu or cuda)");
    }
}

/// <summary>Writes our own checkpoints: safetensors with the config JSON in the metadata.</summary>
public static class AlbefSaver
{
    /// <summary>Saves every parameter (the tied MLM decoder weight once, as PyTorch stores it under both names) atomically.</summary>
    public static void SaveSafetensors(AlbefModel model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.named_parameters())
            tensors[name] = p.detach().cpu();
        var metadata = new Dictionary<string, string>(extraMetadata ?? new Dictionary<string, string>())
        {
            [AlbefLoader.ConfigMetadataKey] = model.Config.ToJson(),
            ["format"] = "groundsharp-albef",
        };
        try
        {
            SafeTensors.Save(path, tensors, metadata);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
