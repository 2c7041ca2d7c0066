using GroundSharp.IO;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GroundSharp.Eval;

namespace GroundSharp.Data.Synthetic;

/// <summary>The split names of the benchmark.</summary>
public static class SynthSplits
{
    public const string Pretrain = "pretrain";
    public const string Boxes = "boxes";
    public const string Val = "val";
    public const string Test = "test";
    public const string TestCompositional = "test-compositional";

    public static IReadOnlyList<string> All { get; } = new[] { Pretrain, Boxes, Val, Test, TestCompositional };
    public static IReadOnlyList<string> Evaluation { get; } = new[] { Val, Test, TestCompositional };

    /// <summary>The leading digit of a split's numeric image ids (ids are code × 1,000,000 + index).</summary>
    public static int Code(string split) => split switch
    {
        Pretrain => 1, Boxes => 2, Val => 3, Test => 4, TestCompositional => 5,
        _ => throw new ArgumentException($"unknown split \"{split}\"", nameof(split)),
    };
}

/// <summary>Knobs of the whole benchmark: the seed, images per split, scene and phrase options.</summary>
public sealed record SynthBenchmarkOptions
{
    public const int MaxImagesPerSplit = 999_999;

    public int Seed { get; init; }
    public int Pretrain { get; init; } = 2000;
    public int Boxes { get; init; } = 1000;
    public int Val { get; init; } = 200;
    public int Test { get; init; } = 200;
    public int TestCompositional { get; init; } = 200;
    public SceneGeneratorOptions Scenes { get; init; } = new();
    public PhraseOptions Phrases { get; init; } = new();

    /// <summary>A few images per split at 128×128: for tests and quick looks.</summary>
    public static SynthBenchmarkOptions Tiny(int seed) => new()
    {
        Seed = seed, Pretrain = 12, Boxes = 8, Val = 4, Test = 4, TestCompositional = 4,
        Scenes = new SceneGeneratorOptions { Width = 128, Height = 128 },
    };

    public int Count(string split) => split switch
    {
        SynthSplits.Pretrain => Pretrain, SynthSplits.Boxes => Boxes, SynthSplits.Val => Val,
        SynthSplits.Test => Test, SynthSplits.TestCompositional => TestCompositional,
        _ => throw new ArgumentException($"unknown split \"{split}\"", nameof(split)),
    };

    public void Validate()
    {
        foreach (var split in SynthSplits.All)
        {
            int n = Count(split);
            if (n < 0 || n > MaxImagesPerSplit)
                throw new GroundSharpException($"--{split} must be between 0 and {MaxImagesPerSplit} images (got {n})");
        }
        if (Phrases.MaxSpatial < 0 || Phrases.MaxRelational < 0)
            throw new GroundSharpException("phrase limits must not be negative");
        Scenes.Validate();
    }
}

/// <summary>One generated image of a split: its scene, caption and (for all but pretrain) phrases.</summary>
public sealed record SynthScene(string Split, string ImageId, Scene Scene, string Caption, IReadOnlyList<GroundedPhrase> Phrases)
{
    /// <summary>The image's path relative to the benchmark folder, with '/' on every platform.</summary>
    public string ImagePath => $"images/{Split}/{ImageId}.png";

    /// <summary>The Flickr30k-Entities-style entity id of an object (numeric, unique across the benchmark).</summary>
    public string EntityId(int objectIndex) => (long.Parse(ImageId, CultureInfo.InvariantCulture) * 10 + objectIndex + 1).ToString(CultureInfo.InvariantCulture);
}

/// <summary>Images, phrases and per-category phrase counts of one split.</summary>
public sealed record SplitCounts(int Images, int Phrases, IReadOnlyDictionary<string, int> Categories);

/// <summary>
/// Generates the benchmark (docs/synthetic-benchmark.md). Each scene is a pure function of (seed, split, index),
/// so the output is byte-identical for the same seed and options whatever the machine or thread count.
/// </summary>
public static class SynthBenchmark
{
    public const string GeneratorVersion = "groundsharp-synth/1";

    /// <summary>One scene of a split, from the seed alone.</summary>
    public static SynthScene GenerateScene(SynthBenchmarkOptions options, string split, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rng = new Random(SceneSeed(options.Seed, split, index));
        var sceneOptions = options.Scenes with
        {
            HeldOut = split == SynthSplits.TestCompositional ? HeldOutPolicy.Require : HeldOutPolicy.Exclude,
        };
        var scene = SceneGenerator.Generate(rng, sceneOptions);
        string caption = CaptionGenerator.Caption(scene, rng);
        IReadOnlyList<GroundedPhrase> phrases = split == SynthSplits.Pretrain ? Array.Empty<GroundedPhrase>() : PhraseGenerator.Generate(scene, rng, options.Phrases);
        if (split == SynthSplits.TestCompositional)
            phrases = phrases.Where(p => CompositionalHoldOut.IsHeldOut(scene.Objects[p.ObjectIndex])).ToList();
        string id = (SynthSplits.Code(split) * 1_000_000L + index).ToString(CultureInfo.InvariantCulture);
        return new SynthScene(split, id, scene, caption, phrases);
    }

    /// <summary>A per-scene seed mixed (SplitMix64) from the benchmark seed, the split and the index.</summary>
    public static int SceneSeed(int seed, string split, int index)
    {
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)SynthSplits.Code(split) * 0xBF58476D1CE4E5B9UL + (ulong)index * 0x94D049BB133111EBUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary>
    /// Writes the benchmark into <paramref name="outDir"/> (see docs/synthetic-benchmark.md for the layout) and
    /// returns the counts per split. Refuses a non-empty folder that is not an earlier synthetic benchmark; an
    /// earlier one is replaced.
    /// </summary>
    public static IReadOnlyDictionary<string, SplitCounts> Write(SynthBenchmarkOptions options, string outDir, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        PrepareFolder(outDir);
        var counts = new Dictionary<string, SplitCounts>();
        foreach (var split in SynthSplits.All)
        {
            var scenes = GenerateSplit(options, split, outDir, progress);
            var phrases = scenes.SelectMany(s => s.Phrases).ToList();
            var categories = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var label in phrases.SelectMany(p => p.CategoryLabel.Split('/')))
                categories[label] = categories.GetValueOrDefault(label) + 1;
            counts[split] = new SplitCounts(scenes.Count, phrases.Count, categories);
            if (split == SynthSplits.Pretrain)
                WriteAtomic(Path.Combine(outDir, "pretrain.jsonl"), JsonLines(scenes.Select(s =>
                    new GroundingSample(s.ImagePath, s.Caption, null, "caption", s.ImageId, CaptionGenerator.Tags(s.Scene)))));
            else
                WriteAtomic(Path.Combine(outDir, split + ".jsonl"), JsonLines(scenes.SelectMany(s => s.Phrases.Select(p =>
                    new GroundingSample(s.ImagePath, p.Text, p.Box, p.CategoryLabel, s.ImageId)))));
            if (SynthSplits.Evaluation.Contains(split)) FlickrEntitiesLayout.Write(Path.Combine(outDir, "flickr"), split, scenes, outDir);
        }
        WriteAtomic(Path.Combine(outDir, "synth.json"), Manifest(options, counts));
        return counts;
    }

    private static List<SynthScene> GenerateSplit(SynthBenchmarkOptions options, string split, string outDir, Action<string>? progress)
    {
        int n = options.Count(split);
        var scenes = new SynthScene[n];
        Directory.CreateDirectory(Path.Combine(outDir, "images", split));
        int done = 0, step = Math.Max(1, n / 10);
        Parallel.For(0, n, i =>
        {
            var s = GenerateScene(options, split, i);
            WriteAtomic(Path.Combine(outDir, s.ImagePath), SceneRenderer.EncodePng(SceneRenderer.Render(s.Scene)));
            scenes[i] = s;
            int d = Interlocked.Increment(ref done);
            if (progress is not null && (d % step == 0 || d == n)) progress($"{split}: {d}/{n} images");
        });
        return scenes.ToList();
    }

    private static void PrepareFolder(string outDir)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            if (!File.Exists(Path.Combine(outDir, "synth.json")))
                throw new GroundSharpException($"{outDir} is not empty and holds no synth.json: refusing to write a benchmark into it");
            foreach (var sub in new[] { "images", "flickr" })
                if (Directory.Exists(Path.Combine(outDir, sub))) Directory.Delete(Path.Combine(outDir, sub), recursive: true);
            foreach (var file in SynthSplits.All.Select(s => s + ".jsonl").Append("synth.json"))
                File.Delete(Path.Combine(outDir, file));
        }
        Directory.CreateDirectory(outDir);
    }

    private static string JsonLines(IEnumerable<GroundingSample> samples)
    {
        var sb = new StringBuilder();
        foreach (var s in samples) sb.Append(GroundingSampleFile.ToJsonLine(s)).Append('\n');
        return sb.ToString();
    }

    // Regenerable bulk output: atomic (no half-written file after a kill), not flushed to disk one by one.
    internal static void WriteAtomic(string path, string text) => AtomicFile.WriteAllText(path, text, durable: false);

    internal static void WriteAtomic(string path, byte[] bytes) => AtomicFile.WriteAllBytes(path, bytes, durable: false);

    private static string Manifest(SynthBenchmarkOptions o, IReadOnlyDictionary<string, SplitCounts> counts)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteString("generator", GeneratorVersion);
            w.WriteNumber("seed", o.Seed);
            w.WriteStartObject("knobs");
            foreach (var split in SynthSplits.All) w.WriteNumber(split, o.Count(split));
            var s = o.Scenes;
            w.WriteNumber("width", s.Width);
            w.WriteNumber("height", s.Height);
            w.WriteBoolean("vary_size", s.VarySize);
            w.WriteNumber("min_objects", s.MinObjects);
            w.WriteNumber("max_objects", s.MaxObjects);
            w.WriteNumber("occlusion_rate", s.OcclusionRate);
            w.WriteNumber("noisy_rate", s.NoisyRate);
            w.WriteNumber("large_rate", s.LargeRate);
            w.WriteNumber("repeat_shape_rate", s.RepeatShapeRate);
            w.WriteNumber("max_spatial_phrases", o.Phrases.MaxSpatial);
            w.WriteNumber("max_relational_phrases", o.Phrases.MaxRelational);
            w.WriteEndObject();
            w.WriteStartArray("held_out_pairs");
            foreach (var (colour, shape) in CompositionalHoldOut.Pairs) w.WriteStringValue($"{colour.Name} {Words.Of(shape)}");
            w.WriteEndArray();
            w.WriteString("held_out_policy", "held-out colour-shape pairs appear in no image of pretrain, boxes, val or test; every test-compositional image has one, and its phrases are exactly those referring to a held-out-pair object");
            w.WriteString("boxes", "jsonl: 0-based pixels, [x1, y1, x2, y2] with x2/y2 exclusive, the object's full extent even when partly occluded; flickr xml: 1-based inclusive (xmin = x1 + 1, xmax = x2)");
            w.WriteStartObject("splits");
            foreach (var (split, c) in counts)
            {
                w.WriteStartObject(split);
                w.WriteNumber("images", c.Images);
                w.WriteNumber("phrases", c.Phrases);
                w.WriteStartObject("categories");
                foreach (var (category, n) in c.Categories) w.WriteNumber(category, n);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
