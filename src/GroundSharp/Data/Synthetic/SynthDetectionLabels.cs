using System.Text.Json;
using GroundSharp.Eval;

namespace GroundSharp.Data.Synthetic;

/// <summary>One image of a split with every object's full box and shape (detector training labels).</summary>
public sealed record SynthLabeledImage(string ImagePath, IReadOnlyList<(Box Box, ShapeKind Shape)> Objects);

/// <summary>
/// Detector labels for a written benchmark. The phrases of <c>boxes.jsonl</c> need not name every object, so the
/// scenes are regenerated from the knobs in <c>synth.json</c> (each scene is a pure function of seed, split and
/// index) and checked against the written phrases: every phrase box must be an object of its regenerated scene
/// with the shape its category names, or the folder is refused.
/// </summary>
public static class SynthDetectionLabels
{
    /// <summary>The options that wrote the benchmark in <paramref name="dir"/>, read back from its synth.json.</summary>
    public static SynthBenchmarkOptions ReadOptions(string dir)
    {
        var manifest = Path.Combine(dir, "synth.json");
        if (!File.Exists(manifest)) throw new GroundSharpException($"{dir} is not a synthetic benchmark (no synth.json; write one with 'groundsharp synth')");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            var root = doc.RootElement;
            var generator = root.GetProperty("generator").GetString();
            if (generator != SynthBenchmark.GeneratorVersion)
                throw new GroundSharpException($"{manifest}: written by '{generator}', this build regenerates '{SynthBenchmark.GeneratorVersion}' scenes; regenerate the benchmark");
            var k = root.GetProperty("knobs");
            int Int(string name) => k.GetProperty(name).GetInt32();
            double Double(string name) => k.GetProperty(name).GetDouble();
            return new SynthBenchmarkOptions
            {
                Seed = root.GetProperty("seed").GetInt32(),
                Pretrain = Int(SynthSplits.Pretrain), Boxes = Int(SynthSplits.Boxes), Val = Int(SynthSplits.Val),
                Test = Int(SynthSplits.Test), TestCompositional = Int(SynthSplits.TestCompositional),
                Scenes = new SceneGeneratorOptions
                {
                    Width = Int("width"), Height = Int("height"), VarySize = k.GetProperty("vary_size").GetBoolean(),
                    MinObjects = Int("min_objects"), MaxObjects = Int("max_objects"), OcclusionRate = Double("occlusion_rate"),
                    NoisyRate = Double("noisy_rate"), LargeRate = Double("large_rate"), RepeatShapeRate = Double("repeat_shape_rate"),
                },
                Phrases = new PhraseOptions(Int("max_spatial_phrases"), Int("max_relational_phrases")),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new GroundSharpException($"{manifest}: not a readable benchmark manifest ({e.Message})", e);
        }
    }

    /// <summary>
    /// Every image of <paramref name="split"/> (default: the box split) with all its objects, image paths absolute.
    /// Throws when the regenerated scenes do not reproduce the split's phrase file.
    /// </summary>
    public static List<SynthLabeledImage> Read(string dir, string split = SynthSplits.Boxes)
    {
        var options = ReadOptions(dir);
        var phraseFile = Path.Combine(dir, split + ".jsonl");
        if (!File.Exists(phraseFile)) throw new GroundSharpException($"{dir} has no split '{split}' ({split}.jsonl not found)");
        var phrasesByImage = GroundingSampleFile.Read(phraseFile).GroupBy(s => Path.GetFullPath(s.ImagePath)).ToDictionary(g => g.Key, g => g.ToList());
        var images = new List<SynthLabeledImage>();
        for (int i = 0; i < options.Count(split); i++)
        {
            var scene = SynthBenchmark.GenerateScene(options, split, i);
            var path = Path.GetFullPath(Path.Combine(dir, scene.ImagePath));
            var objects = scene.Scene.Objects.Select(o => (o.Box, o.Shape)).ToList();
            foreach (var phrase in phrasesByImage.GetValueOrDefault(path) ?? [])
            {
                var shape = phrase.Source?.Split('/').LastOrDefault();
                if (phrase.Box is not { } box || !objects.Any(o => o.Box == box && Words.Of(o.Shape) == shape))
                    throw new GroundSharpException($"{phraseFile}: \"{phrase.Text}\" on {scene.ImagePath} ({phrase.Box}, {phrase.Source}) is no object of the scene that synth.json regenerates; was the folder edited?");
            }
            images.Add(new SynthLabeledImage(path, objects));
        }
        return images;
    }
}
