using System.Text.Json;
using GroundSharp.IO;
using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>The non-tensor state of a run at the end of a step.</summary>
/// <param name="Epoch">Epochs finished (REC training checkpoints at epoch ends); null for step-based runs.</param>
public sealed record TrainerState(int Step, int TotalSteps, int StepsPerEpoch, long Seed, IReadOnlyDictionary<string, long> OptimizerSteps, int? Epoch = null);

/// <summary>
/// A checkpoint folder <c>step-NNNNNNN/</c> (docs/training.md): <c>model.safetensors</c> (model, momentum
/// copies, queues and queue pointer under the public ALBEF names, with the model config in the metadata; it
/// loads anywhere a model checkpoint does) and <c>trainer.safetensors</c> (AdamW moments
/// <c>optimizer.NAME.exp_avg|exp_avg_sq</c>, RNG states <c>rng.torch_global</c>, <c>rng.trainer</c>, and the
/// <see cref="TrainerState"/> JSON in the metadata). The folder is written under a temporary name and renamed
/// into place, so a checkpoint folder is always complete.
/// </summary>
public static class TrainingCheckpoint
{
    public const string ModelFile = "model.safetensors";
    public const string TrainerFile = "trainer.safetensors";
    private const string StateMetadataKey = "groundsharp_trainer_state";

    /// <summary>Called after the files are written and before the folder is renamed into place (tests use it to fail there).</summary>
    internal static Action<string>? BeforeCommit { get; set; }

    public static string FolderName(int step) => $"step-{step:D7}";

    public static string Save(string checkpointsDir, AlbefPretrainer pretrainer, IReadOnlyDictionary<string, Tensor> optimizerTensors,
        Tensor torchRngState, Tensor trainerRngState, TrainerState state) =>
        Save(checkpointsDir, modelFile =>
        {
            var model = pretrainer.StateDict();
            try
            {
                SafeTensors.Save(modelFile, model, new Dictionary<string, string>
                {
                    [AlbefLoader.ConfigMetadataKey] = pretrainer.Config.ToJson(),
                    ["format"] = "groundsharp-albef-pretrain",
                });
            }
            finally
            {
                foreach (var t in model.Values) t.Dispose();
            }
        }, optimizerTensors, new Dictionary<string, Tensor> { ["rng.torch_global"] = torchRngState, ["rng.trainer"] = trainerRngState }, state);

    /// <summary>
    /// Writes a checkpoint folder for any model: <paramref name="writeModel"/> writes <c>model.safetensors</c> at the path
    /// it is given; the optimizer and RNG tensors and the state go to <c>trainer.safetensors</c>. Atomic, as above.
    /// </summary>
    public static string Save(string checkpointsDir, Action<string> writeModel, IReadOnlyDictionary<string, Tensor> optimizerTensors,
        IReadOnlyDictionary<string, Tensor> rngStates, TrainerState state)
    {
        Directory.CreateDirectory(checkpointsDir);
        string final = Path.Combine(checkpointsDir, FolderName(state.Step));
        string temp = Path.Combine(checkpointsDir, $".{FolderName(state.Step)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            writeModel(Path.Combine(temp, ModelFile));
            var trainer = new Dictionary<string, Tensor>(optimizerTensors);
            foreach (var (name, t) in rngStates) trainer[name] = t;
            SafeTensors.Save(Path.Combine(temp, TrainerFile), trainer, new Dictionary<string, string>
            {
                [StateMetadataKey] = JsonSerializer.Serialize(state),
                ["format"] = "groundsharp-trainer-state",
            });
            BeforeCommit?.Invoke(temp);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
            return final;
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); }
            catch (IOException) { /* the original error matters more */ }
            throw;
        }
    }

    /// <summary>A checkpoint folder, or the latest <c>step-*</c> folder inside a run's output or checkpoints folder.</summary>
    public static string Resolve(string path)
    {
        if (File.Exists(path) && Path.GetFileName(path) is ModelFile or TrainerFile) path = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(path)) throw new GroundSharpException($"--resume: {path} is not a checkpoint folder");
        if (File.Exists(Path.Combine(path, TrainerFile))) return path;
        foreach (var dir in new[] { path, Path.Combine(path, "checkpoints") })
        {
            if (!Directory.Exists(dir)) continue;
            var latest = Directory.GetDirectories(dir, "step-*").Where(d => File.Exists(Path.Combine(d, TrainerFile))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault();
            if (latest is not null) return latest;
        }
        throw new GroundSharpException($"--resume: no checkpoint (step-*/{TrainerFile}) under {path}");
    }

    /// <summary>The output folder of the run a <c>--resume</c> path belongs to (the folder above <c>checkpoints/step-*</c>).</summary>
    public static string RunFolder(string resumePath)
    {
        string checkpoints = Path.GetDirectoryName(Path.GetFullPath(Resolve(resumePath)))!;
        return Path.GetFileName(checkpoints) == "checkpoints" ? Path.GetDirectoryName(checkpoints)! : checkpoints;
    }

    /// <summary>
    /// Deletes the temporary folders (<c>.step-*.tmp</c>) that a write killed before its rename left behind; returns
    /// how many. Only a run's own start calls it, when no other write into the folder can be under way.
    /// </summary>
    public static int RemoveUnfinished(string checkpointsDir)
    {
        if (!Directory.Exists(checkpointsDir)) return 0;
        var stale = Directory.GetDirectories(checkpointsDir, ".step-*.tmp");
        foreach (var dir in stale) Directory.Delete(dir, recursive: true);
        return stale.Length;
    }

    /// <summary>Reads a checkpoint folder. The caller owns (and disposes) the returned tensors.</summary>
    public static (Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Trainer, TrainerState State, AlbefConfig Config) Load(string folder)
    {
        var (model, modelMeta) = SafeTensors.Load(Path.Combine(folder, ModelFile));
        var config = modelMeta.TryGetValue(AlbefLoader.ConfigMetadataKey, out var cfg)
            ? AlbefConfig.Parse(cfg, folder + " (embedded config)")
            : throw new GroundSharpException($"{folder}: {ModelFile} has no embedded model config");
        var (trainer, state) = LoadTrainer(folder);
        return (model, trainer, state, config);
    }

    /// <summary>The optimizer and RNG tensors and the state of a checkpoint folder (the model file is the caller's to read).</summary>
    public static (Dictionary<string, Tensor> Trainer, TrainerState State) LoadTrainer(string folder)
    {
        var (trainer, trainerMeta) = SafeTensors.Load(Path.Combine(folder, TrainerFile));
        if (!trainerMeta.TryGetValue(StateMetadataKey, out var json))
            throw new GroundSharpException($"{folder}: {TrainerFile} has no trainer state; is it a GroundSharp training checkpoint?");
        var state = JsonSerializer.Deserialize<TrainerState>(json) ?? throw new GroundSharpException($"{folder}: empty trainer state");
        return (trainer, state);
    }
}
