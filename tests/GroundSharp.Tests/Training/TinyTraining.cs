using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.Models;
using GroundSharp.Training;
using SkiaSharp;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Training;

/// <summary>A tiny ALBEF (ViT 48/1 layer, BERT 48/3 layers, fusion from layer 1, 32 px, patch 8) with a small vocabulary.</summary>
public static class TinyTraining
{
    public static readonly string[] Words =
    {
        "a", "the", "red", "green", "blue", "yellow", "square", "circle", "on", "left", "right", "top", "bottom",
        "picture", "of", "and", "small", "big", "cat", "dog", "with", "in", "background", "black",
    };

    public static AlbefConfig Config => new AlbefConfig
    {
        ImageRes = 32, PatchSize = 8, VisionWidth = 48, VisionDepth = 1, VisionHeads = 4, EmbedDim = 16, QueueSize = 32,
        Bert = new BertConfig
        {
            VocabSize = 5 + Words.Length, HiddenSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 96,
            MaxPositionEmbeddings = 32, FusionLayer = 1, EncoderWidth = 48,
        },
    }.Validate();

    private static readonly Lazy<string> VocabPath = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"groundsharp-tiny-vocab-{Environment.ProcessId}.txt");
        File.WriteAllLines(path, new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Words));
        return path;
    });

    public static string VocabFile => VocabPath.Value;
    public static AlbefTokenizer Tokenizer => AlbefTokenizer.FromVocab(VocabPath.Value);
    public static MlmTokens MlmTokens => MlmTokens.From(Tokenizer, Config.Bert.VocabSize);

    public static readonly (string Name, byte R, byte G, byte B)[] Colours =
        { ("red", 220, 30, 30), ("green", 30, 200, 40), ("blue", 30, 40, 220), ("yellow", 230, 220, 30) };

    /// <summary>A black WxH picture with one coloured square at (x, y, size).</summary>
    public static RgbImage Scene(int colour, int x, int y, int size, int width = 48, int height = 40)
    {
        var px = new byte[width * height * 3];
        var (_, r, g, b) = Colours[colour];
        for (int yy = y; yy < Math.Min(height, y + size); yy++)
            for (int xx = x; xx < Math.Min(width, x + size); xx++)
            {
                int i = (yy * width + xx) * 3;
                px[i] = r; px[i + 1] = g; px[i + 2] = b;
            }
        return new RgbImage(width, height, px);
    }

    /// <summary>Writes n scenes as PNGs plus a JSON-lines file; odd samples are caption-only.</summary>
    public static string WriteDataset(string folder, int n, int seed = 7)
    {
        Directory.CreateDirectory(folder);
        var rng = new Random(seed);
        var lines = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int colour = i % Colours.Length, size = 12 + rng.Next(8);
            int x = rng.Next(0, 48 - size), y = rng.Next(0, 40 - size);
            var img = Scene(colour, x, y, size);
            string file = $"scene{i}.png";
            using (var bmp = img.ToSKBitmap())
            using (var data = bmp.Encode(SKEncodedImageFormat.Png, 100))
                File.WriteAllBytes(Path.Combine(folder, file), data.ToArray());
            string side = x + size / 2 < 24 ? "left" : "right";
            var sample = i % 2 == 0
                ? new GroundingSample(Path.Combine(folder, file), $"the {Colours[colour].Name} square on the {side}", new Box(x, y, x + size, y + size))
                : new GroundingSample(Path.Combine(folder, file), $"a picture of a {Colours[colour].Name} square", null);
            lines.Add(GroundingSampleFile.ToJsonLine(sample, folder));
        }
        var path = Path.Combine(folder, "samples.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>An in-memory batch of n scenes; sample i has a box when <paramref name="hasBox"/>(i).</summary>
    public static PretrainBatch Batch(int n, Func<int, bool> hasBox, int seed = 3) =>
        BatchCollator.Collate(Samples(n, hasBox, seed), Tokenizer, Config, device: null);

    /// <summary>The augmented samples of <see cref="Batch"/> (image i is "mem{i}"; all with boxes unless <paramref name="hasBox"/> says).</summary>
    public static List<AugmentedSample> Samples(int n, Func<int, bool>? hasBox = null, int seed = 3)
    {
        hasBox ??= _ => true;
        var rng = new Random(seed);
        var aug = new TripletAugmenter(Config.ImageRes, AugmentationOptions.None);
        var samples = new List<AugmentedSample>();
        for (int i = 0; i < n; i++)
        {
            int colour = i % Colours.Length, size = 14 + rng.Next(6);
            int x = rng.Next(0, 48 - size), y = rng.Next(0, 40 - size);
            var box = hasBox(i) ? new Box(x, y, x + size, y + size) : (Box?)null;
            var text = hasBox(i) ? $"the {Colours[colour].Name} square" : $"a picture of a {Colours[colour].Name} square";
            samples.Add(aug.Augment(Scene(colour, x, y, size), new GroundingSample($"mem{i}", text, box), rng));
        }
        return samples;
    }
}
