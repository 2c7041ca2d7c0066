using System.Text.Json;
using System.Text.Json.Serialization;
using GroundSharp.Losses;
using GroundSharp.Models;

namespace GroundSharp.Training;

/// <summary>
/// The <c>groundsharp train --config train.json</c> file (docs/training.md): snake_case keys, unknown keys are
/// an error, relative paths are relative to the config file's folder.
/// </summary>
public sealed record TrainConfig
{
    /// <summary>The model config: a path to an ALBEF config JSON, or the config object inline.</summary>
    public AlbefConfig Model { get; init; } = AlbefConfig.Base;
    /// <summary>Model config as given (path or inline JSON), for the record.</summary>
    public string ModelSource { get; init; } = "ALBEF-base defaults";
    /// <summary>BERT vocab.txt; null = the bundled bert-base-uncased vocabulary.</summary>
    public string? Vocab { get; init; }
    public IReadOnlyList<string> DataFiles { get; init; } = Array.Empty<string>();
    /// <summary>Folder relative image paths are resolved against; null = each sample file's folder.</summary>
    public string? ImageRoot { get; init; }
    public int BatchSize { get; init; } = 64;
    public int Epochs { get; init; } = 1;
    /// <summary>Length of the schedule in steps; null = epochs × steps per epoch.</summary>
    public int? MaxSteps { get; init; }
    public double Lr { get; init; } = 1e-5;
    public double MinLr { get; init; }
    public double WeightDecay { get; init; } = 0.02;
    public int WarmupSteps { get; init; }
    /// <summary>Clip the global gradient L2 norm to this value; null = no clipping.</summary>
    public double? GradClip { get; init; }
    public long Seed { get; init; } = 42;
    /// <summary>Write a checkpoint every N steps (0 = only at the end).</summary>
    public int CheckpointEvery { get; init; } = 1000;
    public int LogEvery { get; init; } = 1;
    public string OutputDir { get; init; } = "runs/train";
    public ObjectiveSwitches Objectives { get; init; } = new();
    /// <summary>
    /// Share of ITM negatives drawn uniformly from the batch instead of by ITC similarity (0 = ALBEF's hard
    /// negatives). From scratch, hard negatives alone keep ITM at its prior (docs/training.md).
    /// </summary>
    public double ItmRandomNegatives { get; init; }
    /// <summary>
    /// Leave a batch item out of another's ITC and ITM negatives when its text is true of the other's image by the
    /// words said about that image (<see cref="NegativeFilter"/>); false = ALBEF (every other item is a negative).
    /// </summary>
    public bool FilterFalseNegatives { get; init; }
    /// <summary>
    /// Share of items whose ITM negative text is their own text with one word swapped for another of its class
    /// (<see cref="WordSwapNegatives"/>), where such a swap is false of the image; 0 = ALBEF (negatives from the batch).
    /// </summary>
    public double ItmSwapNegatives { get; init; }
    /// <summary>The word classes of <see cref="ItmSwapNegatives"/>; null = the synthetic benchmark's (colours, shapes, textures, sizes).</summary>
    public IReadOnlyList<IReadOnlyList<string>>? SwapWordClasses { get; init; }
    /// <summary>Texts per tagged image of the tag_itm objective, half its own tags and half tags it lacks (<see cref="TagMatching"/>).</summary>
    public int TagItmTexts { get; init; } = 8;
    public AmcLossOptions Amc { get; init; } = new();
    public AugmentationOptions Augmentation { get; init; } = new();
    /// <summary>Batches prepared ahead by the background thread.</summary>
    public int PrefetchBatches { get; init; } = 4;
    public string Device { get; init; } = "cpu";
    /// <summary>Also write the final weights as a PyTorch checkpoint <c>{'model': state_dict}</c> (model.pth).</summary>
    public bool ExportPth { get; init; }

    public TrainConfig Validate(string source = "train config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Require(DataFiles.Count > 0, "data.files must list at least one JSON-lines sample file");
        Require(BatchSize >= 2, $"batch_size ({BatchSize}) must be at least 2 (ITM draws its negatives from the batch)");
        Require(Epochs >= 1, "epochs must be >= 1");
        Require(MaxSteps is null or > 0, "max_steps must be > 0");
        Require(Lr > 0 && MinLr >= 0 && MinLr <= Lr, "lr must be > 0 and 0 <= min_lr <= lr");
        Require(WeightDecay >= 0, "weight_decay must be >= 0");
        Require(WarmupSteps >= 0, "warmup_steps must be >= 0");
        Require(GradClip is null or > 0, "grad_clip must be > 0 (or null)");
        Require(CheckpointEvery >= 0 && LogEvery >= 1, "checkpoint_every must be >= 0 and log_every >= 1");
        Require(PrefetchBatches >= 1, "prefetch_batches must be >= 1");
        Require(ItmRandomNegatives is >= 0 and <= 1, $"itm_random_negatives ({ItmRandomNegatives}) must be in [0, 1]");
        Require(ItmSwapNegatives is >= 0 and <= 1, $"itm_swap_negatives ({ItmSwapNegatives}) must be in [0, 1]");
        if (SwapWordClasses is not null) WordSwapNegatives.ClassMap(SwapWordClasses, source + ": swap_word_classes");
        TagMatching.CheckTextsPerImage(TagItmTexts, source + ": tag_itm_texts");
        Require(Objectives.Itc || Objectives.Itm || Objectives.Mlm || Objectives.Amc || Objectives.Tags || Objectives.TagItm, "objectives: at least one must be on");
        Require(Amc.MarginMean >= 0 && Amc.MarginMax >= 0 && Amc.WeightMean >= 0 && Amc.WeightMax >= 0, "amc margins and weights must be >= 0");
        Augmentation.Validate(source + ": augmentation");
        Model.Validate(source + ": model");
        return this;
    }

    public static TrainConfig Load(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"train config not found: {path}");
        return Parse(File.ReadAllText(path), Path.GetDirectoryName(Path.GetFullPath(path))!, path);
    }

    private static readonly JsonSerializerOptions DtoOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <param name="baseDir">Folder that relative paths are resolved against.</param>
    public static TrainConfig Parse(string json, string baseDir, string source = "train config")
    {
        Dto dto;
        try
        {
            dto = JsonSerializer.Deserialize<Dto>(json, DtoOptions) ?? throw new GroundSharpException($"{source}: empty config");
        }
        catch (JsonException e)
        {
            throw new GroundSharpException($"{source}: {ValueDescriptions.Of(e)}", e);
        }
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.GetFullPath(Path.Combine(baseDir, p));

        var defaults = new TrainConfig();
        AlbefConfig model = AlbefConfig.Base;
        string modelSource = defaults.ModelSource;
        if (dto.Model is { } m)
        {
            if (m.ValueKind == JsonValueKind.String) { modelSource = Resolve(m.GetString()!); model = AlbefConfig.Load(modelSource); }
            else if (m.ValueKind == JsonValueKind.Object) { modelSource = "inline"; model = AlbefConfig.Parse(m.GetRawText(), source + ": model"); }
            else throw new GroundSharpException($"{source}: \"model\" must be a path to a model config or an inline object");
        }
        var aug = dto.Augmentation;
        var amc = dto.Amc;
        var obj = dto.Objectives;
        var config = new TrainConfig
        {
            Model = model,
            ModelSource = modelSource,
            Vocab = dto.Vocab is null ? null : Resolve(dto.Vocab),
            DataFiles = (dto.Data?.Files ?? new List<string>()).Select(Resolve).ToList(),
            ImageRoot = dto.Data?.ImageRoot is null ? null : Resolve(dto.Data.ImageRoot),
            BatchSize = dto.BatchSize ?? defaults.BatchSize,
            Epochs = dto.Epochs ?? defaults.Epochs,
            MaxSteps = dto.MaxSteps,
            Lr = dto.Lr ?? defaults.Lr,
            MinLr = dto.MinLr ?? defaults.MinLr,
            WeightDecay = dto.WeightDecay ?? defaults.WeightDecay,
            WarmupSteps = dto.WarmupSteps ?? defaults.WarmupSteps,
            GradClip = dto.GradClip,
            Seed = dto.Seed ?? defaults.Seed,
            CheckpointEvery = dto.CheckpointEvery ?? defaults.CheckpointEvery,
            LogEvery = dto.LogEvery ?? defaults.LogEvery,
            OutputDir = Resolve(dto.OutputDir ?? defaults.OutputDir),
            ItmRandomNegatives = dto.ItmRandomNegatives ?? defaults.ItmRandomNegatives,
            FilterFalseNegatives = dto.FilterFalseNegatives ?? defaults.FilterFalseNegatives,
            ItmSwapNegatives = dto.ItmSwapNegatives ?? defaults.ItmSwapNegatives,
            SwapWordClasses = dto.SwapWordClasses?.Select(c => (IReadOnlyList<string>)c).ToList(),
            TagItmTexts = dto.TagItmTexts ?? defaults.TagItmTexts,
            Objectives = new ObjectiveSwitches
            {
                Itc = obj?.Itc ?? true, Itm = obj?.Itm ?? true, Mlm = obj?.Mlm ?? true, Amc = obj?.Amc ?? true, Tags = obj?.Tags ?? false,
                TagItm = obj?.TagItm ?? false,
            },
            Amc = new AmcLossOptions
            {
                MarginMean = amc?.MarginMean ?? 0.1, MarginMax = amc?.MarginMax ?? 0.5,
                WeightMean = amc?.WeightMean ?? 0.2, WeightMax = amc?.WeightMax ?? 0.8,
                Variant = amc?.Variant ?? AmcVariant.MeanAndMax,
            },
            Augmentation = new AugmentationOptions
            {
                FlipProbability = aug?.FlipProbability ?? defaults.Augmentation.FlipProbability,
                SwapLeftRightWords = aug?.SwapLeftRightWords ?? true,
                Brightness = aug?.Brightness ?? defaults.Augmentation.Brightness,
                Contrast = aug?.Contrast ?? defaults.Augmentation.Contrast,
                Saturation = aug?.Saturation ?? defaults.Augmentation.Saturation,
                GrayscaleProbability = aug?.GrayscaleProbability ?? defaults.Augmentation.GrayscaleProbability,
            },
            PrefetchBatches = dto.PrefetchBatches ?? defaults.PrefetchBatches,
            Device = dto.Device ?? defaults.Device,
            ExportPth = dto.ExportPth ?? false,
        };
        return config.Validate(source);
    }

    private sealed class Dto
    {
        public JsonElement? Model { get; set; }
        public string? Vocab { get; set; }
        public DataDto? Data { get; set; }
        public int? BatchSize { get; set; }
        public int? Epochs { get; set; }
        public int? MaxSteps { get; set; }
        public double? Lr { get; set; }
        public double? MinLr { get; set; }
        public double? WeightDecay { get; set; }
        public int? WarmupSteps { get; set; }
        public double? GradClip { get; set; }
        public long? Seed { get; set; }
        public int? CheckpointEvery { get; set; }
        public int? LogEvery { get; set; }
        public string? OutputDir { get; set; }
        public ObjectivesDto? Objectives { get; set; }
        public double? ItmRandomNegatives { get; set; }
        public bool? FilterFalseNegatives { get; set; }
        public double? ItmSwapNegatives { get; set; }
        public List<List<string>>? SwapWordClasses { get; set; }
        public int? TagItmTexts { get; set; }
        public AmcDto? Amc { get; set; }
        public AugmentationDto? Augmentation { get; set; }
        public int? PrefetchBatches { get; set; }
        public string? Device { get; set; }
        public bool? ExportPth { get; set; }
    }

    private sealed class DataDto
    {
        public List<string>? Files { get; set; }
        public string? ImageRoot { get; set; }
    }

    private sealed class ObjectivesDto
    {
        public bool? Itc { get; set; }
        public bool? Itm { get; set; }
        public bool? Mlm { get; set; }
        public bool? Amc { get; set; }
        public bool? Tags { get; set; }
        public bool? TagItm { get; set; }
    }

    private sealed class AmcDto
    {
        public double? MarginMean { get; set; }
        public double? MarginMax { get; set; }
        public double? WeightMean { get; set; }
        public double? WeightMax { get; set; }
        public AmcVariant? Variant { get; set; }
    }

    private sealed class AugmentationDto
    {
        public double? FlipProbability { get; set; }
        public bool? SwapLeftRightWords { get; set; }
        public double? Brightness { get; set; }
        public double? Contrast { get; set; }
        public double? Saturation { get; set; }
        public double? GrayscaleProbability { get; set; }
    }
}
