using System.Text.Json;

namespace GroundSharp.Models;

/// <summary>How the ViT embeds patches (<see cref="AlbefConfig.PatchStem"/>).</summary>
public enum PatchStem { Linear, Conv }

/// <summary>The BERT part of the configuration: the keys of ALBEF's <c>config_bert.json</c>.</summary>
public sealed record BertConfig
{
    public int VocabSize { get; init; } = 30522;
    public int HiddenSize { get; init; } = 768;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public double LayerNormEps { get; init; } = 1e-12;
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public double InitializerRange { get; init; } = 0.02;
    public int PadTokenId { get; init; }
    /// <summary>First layer with cross-attention to the image; layers below it are text-only.</summary>
    public int FusionLayer { get; init; } = 6;
    /// <summary>Width of the image embeddings the cross-attention keys/values read (the ViT width).</summary>
    public int EncoderWidth { get; init; } = 768;
}

/// <summary>
/// ALBEF model configuration: ALBEF's YAML keys as JSON, with the official BERT config nested under
/// <c>"bert"</c>. Missing keys take the ALBEF-base defaults; unknown keys are an error.
/// </summary>
public sealed record AlbefConfig
{
    public int ImageRes { get; init; } = 256;
    public int PatchSize { get; init; } = 16;
    public int VisionWidth { get; init; } = 768;
    public int VisionDepth { get; init; } = 12;
    public int VisionHeads { get; init; } = 12;
    public double VisionMlpRatio { get; init; } = 4.0;
    public int EmbedDim { get; init; } = 256;
    /// <summary>BERT layer whose cross-attention GradCAM explains; null = the 3rd fusion layer (clamped to the last).</summary>
    public int? GradcamLayer { get; init; }
    public double Temp { get; init; } = 0.07;
    public int QueueSize { get; init; } = 65536;
    public double Momentum { get; init; } = 0.995;
    public double Alpha { get; init; } = 0.4;
    public double MlmProbability { get; init; } = 0.15;
    public bool Distill { get; init; } = true;
    public int MaxWords { get; init; } = 30;
    /// <summary>
    /// Whether the fusion layers' cross-attention may read the image [CLS] token (ALBEF: yes). Off, only the patch
    /// tokens are keys, so an ITM decision has to rest on the patches that GradCAM explains.
    /// </summary>
    public bool FusionReadsImageCls { get; init; } = true;
    /// <summary>
    /// Whether the ITM head reads the mean of the fused text tokens instead of the fused [CLS] (ALBEF: [CLS]). From
    /// random weights the [CLS] depends on its own words and on the image by a percent each, so a match — their product —
    /// starts with no gradient; each word token carries its own word (docs/experiment-amc.md, seventh session).
    /// </summary>
    public bool ItmReadsTextMean { get; init; }
    /// <summary>
    /// Factor on the initial standard deviation of the fusion layers' cross-attention weights (query, key, value,
    /// output; 1 = ALBEF's BERT initialisation). Only a model trained from scratch is affected.
    /// </summary>
    public double CrossAttentionInitScale { get; init; } = 1.0;
    /// <summary>
    /// How the ViT turns pixels into patch tokens: ALBEF's one linear projection per patch, or a convolutional stem
    /// (stride-2 4×4 convolutions to the patch size, then a 1×1 projection; Xiao et al. 2021, "Early convolutions
    /// help transformers see better"). For a ViT trained from scratch (docs/experiment-amc.md, eighth session).
    /// </summary>
    public PatchStem PatchStem { get; init; } = PatchStem.Linear;
    public BertConfig Bert { get; init; } = new();

    public int GridSize => ImageRes / PatchSize;
    public int NumPatches => GridSize * GridSize;

    /// <summary>The GradCAM layer index into the BERT layers: the configured one, else the 3rd fusion layer.</summary>
    public int EffectiveGradcamLayer => GradcamLayer ?? Math.Min(Bert.FusionLayer + 2, Bert.NumHiddenLayers - 1);

    public static AlbefConfig Base => new();

    /// <summary>A tiny ALBEF (ViT 2×96 at 256 px, BERT 4×96 with fusion from layer 2, bert-base-uncased vocabulary) for demos and benches.</summary>
    public static AlbefConfig Tiny => new()
    {
        VisionWidth = 96, VisionDepth = 2, VisionHeads = 12, EmbedDim = 32,
        Bert = new BertConfig { HiddenSize = 96, NumHiddenLayers = 4, FusionLayer = 2, NumAttentionHeads = 12, IntermediateSize = 384, EncoderWidth = 96, MaxPositionEmbeddings = 64 },
    };

    /// <summary>Checks sizes and relations; throws a <see cref="GroundSharpException"/> naming the key.</summary>
    public AlbefConfig Validate(string source = "config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Require(ImageRes > 0 && PatchSize > 0 && ImageRes % PatchSize == 0, $"image_res ({ImageRes}) must be a positive multiple of patch_size ({PatchSize})");
        Require(VisionWidth > 0 && VisionHeads > 0 && VisionWidth % VisionHeads == 0, $"vision_width ({VisionWidth}) must be divisible by vision_heads ({VisionHeads})");
        Require(VisionDepth >= 0, "vision_depth must be >= 0");
        Require(EmbedDim > 0, "embed_dim must be > 0");
        Require(QueueSize >= 0, $"queue_size ({QueueSize}) must be >= 0 (0: ITC against the batch only, no feature queue)");
        Require(Momentum >= 0 && Momentum < 1, $"momentum ({Momentum}) must be in [0, 1)");
        var b = Bert;
        Require(b.HiddenSize > 0 && b.NumAttentionHeads > 0 && b.HiddenSize % b.NumAttentionHeads == 0, $"bert.hidden_size ({b.HiddenSize}) must be divisible by bert.num_attention_heads ({b.NumAttentionHeads})");
        Require(b.FusionLayer >= 0 && b.FusionLayer < b.NumHiddenLayers, $"bert.fusion_layer ({b.FusionLayer}) must be in [0, num_hidden_layers={b.NumHiddenLayers})");
        Require(b.EncoderWidth == VisionWidth, $"bert.encoder_width ({b.EncoderWidth}) must equal vision_width ({VisionWidth})");
        Require(b.VocabSize > 0 && b.MaxPositionEmbeddings > 2 && b.TypeVocabSize > 0, "bert.vocab_size, max_position_embeddings and type_vocab_size must be positive");
        int g = EffectiveGradcamLayer;
        Require(g >= b.FusionLayer && g < b.NumHiddenLayers, $"gradcam_layer ({g}) must be a fusion layer, in [{b.FusionLayer}, {b.NumHiddenLayers})");
        Require(VisionMlpRatio > 0 && (int)(VisionWidth * VisionMlpRatio) > 0, $"vision_mlp_ratio ({VisionMlpRatio}) must be > 0");
        Require(b.IntermediateSize > 0, $"bert.intermediate_size ({b.IntermediateSize}) must be > 0");
        Require(MaxWords > 0, $"max_words ({MaxWords}) must be > 0");
        Require(Temp > 0, $"temp ({Temp}) must be > 0");
        Require(CrossAttentionInitScale > 0 && double.IsFinite(CrossAttentionInitScale), $"cross_attention_init_scale ({CrossAttentionInitScale}) must be > 0");
        Require(PatchStem == PatchStem.Linear || (PatchSize >= 2 && (PatchSize & (PatchSize - 1)) == 0 && VisionWidth % (PatchSize / 2) == 0),
            $"patch_stem \"conv\" needs a power-of-two patch_size (got {PatchSize}) and a vision_width divisible by patch_size / 2 (got {VisionWidth})");
        // Sizes are checked before anything is allocated, so that a typo is this message and not an allocator's crash.
        Require((long)GridSize * GridSize <= MaxPatches, $"image_res {ImageRes} / patch_size {PatchSize} gives {(long)GridSize * GridSize} patches, more than the {MaxPatches} whose attention fits in memory");
        var parts = ParameterCounts();
        double total = parts.Sum(p => p.Count);
        var largest = parts.MaxBy(p => p.Count);
        Require(total <= MaxParameters, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the model would have {total:0.###e0} parameters ({total * 4 / 1e9:0.#} GB as float32), more than the {MaxParameters:0e0} GroundSharp allocates; most are in {largest.Part}"));
        return this;
    }

    /// <summary>The most parameters a config may ask for (8 GB as float32; ALBEF-base has about 2.1e8).</summary>
    public const double MaxParameters = 2e9;
    /// <summary>The most image patches: the ViT's attention is patches² a head.</summary>
    public const int MaxPatches = 4096;

    /// <summary>Approximate parameter counts of the model's parts (doubles: a hostile config must not overflow them).</summary>
    private (string Part, double Count)[] ParameterCounts()
    {
        double w = VisionWidth, mlp = (int)(VisionWidth * VisionMlpRatio), h = Bert.HiddenSize, i = Bert.IntermediateSize;
        double fusion = Bert.NumHiddenLayers - Bert.FusionLayer;
        return
        [
            ($"the ViT (vision_width {VisionWidth} x vision_depth {VisionDepth}, {NumPatches} patches)",
                PatchEmbedParameters() + (NumPatches + 1.0) * w + VisionDepth * (4 * w * w + 2 * w * mlp + 9 * w + mlp)),
            ($"the text embeddings (bert.vocab_size {Bert.VocabSize} + bert.max_position_embeddings {Bert.MaxPositionEmbeddings}, x bert.hidden_size {Bert.HiddenSize})",
                ((double)Bert.VocabSize + Bert.MaxPositionEmbeddings + Bert.TypeVocabSize) * h),
            ($"the BERT layers (bert.hidden_size {Bert.HiddenSize}, bert.intermediate_size {Bert.IntermediateSize} x bert.num_hidden_layers {Bert.NumHiddenLayers})",
                Bert.NumHiddenLayers * (4 * h * h + 2 * h * i + 9 * h + i) + fusion * (2 * h * h + 2 * h * Bert.EncoderWidth + 6 * h)),
            ($"the projections (embed_dim {EmbedDim})", ((double)VisionWidth + Bert.HiddenSize + 2) * EmbedDim + h * h + Bert.VocabSize),
        ];
    }

    /// <summary>Parameters of the patch embedding: the linear projection, or the stem's convolutions, norms and 1×1 projection.</summary>
    private double PatchEmbedParameters()
    {
        double w = VisionWidth;
        if (PatchStem == PatchStem.Linear) return 3.0 * PatchSize * PatchSize * w + w;
        double total = 0, cin = 3;
        foreach (var cout in ConvStemChannels()) { total += cin * cout * 16 + 2 * cout; cin = cout; }
        return total + cin * w + w;
    }

    /// <summary>Output channels of the conv stem's stride-2 layers: vision_width / 2^k, doubling to vision_width.</summary>
    public int[] ConvStemChannels()
    {
        int layers = System.Numerics.BitOperations.Log2((uint)PatchSize);
        return Enumerable.Range(0, layers).Select(i => VisionWidth >> (layers - 1 - i)).ToArray();
    }

    public static AlbefConfig Load(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"config file not found: {path}");
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (IOException e)
        {
            throw new GroundSharpException($"{path}: cannot read config: {e.Message}", e);
        }
    }

    public static AlbefConfig Parse(string json, string source = "config")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new GroundSharpException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{source}: the config must be a JSON object");
            var r = new JsonReaderHelper(source);
            var c = new AlbefConfig();
            var bert = new BertConfig();
            bool encoderWidthGiven = false;
            foreach (var p in root.EnumerateObject())
            {
                c = p.Name switch
                {
                    "image_res" => c with { ImageRes = r.Int(p) },
                    "patch_size" => c with { PatchSize = r.Int(p) },
                    "vision_width" => c with { VisionWidth = r.Int(p) },
                    "vision_depth" => c with { VisionDepth = r.Int(p) },
                    "vision_heads" => c with { VisionHeads = r.Int(p) },
                    "vision_mlp_ratio" => c with { VisionMlpRatio = r.Double(p) },
                    "embed_dim" => c with { EmbedDim = r.Int(p) },
                    "gradcam_layer" => c with { GradcamLayer = p.Value.ValueKind == JsonValueKind.Null ? null : r.Int(p) },
                    "temp" => c with { Temp = r.Double(p) },
                    "queue_size" => c with { QueueSize = r.Int(p) },
                    "momentum" => c with { Momentum = r.Double(p) },
                    "alpha" => c with { Alpha = r.Double(p) },
                    "mlm_probability" => c with { MlmProbability = r.Double(p) },
                    "distill" => c with { Distill = r.Bool(p) },
                    "max_words" => c with { MaxWords = r.Int(p) },
                    "fusion_reads_image_cls" => c with { FusionReadsImageCls = r.Bool(p) },
                    "itm_reads_text_mean" => c with { ItmReadsTextMean = r.Bool(p) },
                    "cross_attention_init_scale" => c with { CrossAttentionInitScale = r.Double(p) },
                    "patch_stem" => c with { PatchStem = r.String(p) switch
                    {
                        "linear" => PatchStem.Linear,
                        "conv" => PatchStem.Conv,
                        var v => throw new GroundSharpException($"{source}: 'patch_stem' must be \"linear\" or \"conv\", got \"{v}\""),
                    } },
                    "bert" => c,
                    _ => throw new GroundSharpException($"{source}: unknown config key '{p.Name}' (known: image_res, patch_size, vision_width, vision_depth, vision_heads, vision_mlp_ratio, embed_dim, gradcam_layer, temp, queue_size, momentum, alpha, mlm_probability, distill, max_words, fusion_reads_image_cls, itm_reads_text_mean, cross_attention_init_scale, patch_stem, bert)"),
                };
                if (p.Name != "bert") continue;
                if (p.Value.ValueKind != JsonValueKind.Object) throw new GroundSharpException($"{source}: 'bert' must be an object (the BERT config)");
                foreach (var q in p.Value.EnumerateObject())
                {
                    bert = q.Name switch
                    {
                        "vocab_size" => bert with { VocabSize = r.Int(q) },
                        "hidden_size" => bert with { HiddenSize = r.Int(q) },
                        "num_hidden_layers" => bert with { NumHiddenLayers = r.Int(q) },
                        "num_attention_heads" => bert with { NumAttentionHeads = r.Int(q) },
                        "intermediate_size" => bert with { IntermediateSize = r.Int(q) },
                        "max_position_embeddings" => bert with { MaxPositionEmbeddings = r.Int(q) },
                        "type_vocab_size" => bert with { TypeVocabSize = r.Int(q) },
                        "layer_norm_eps" => bert with { LayerNormEps = r.Double(q) },
                        "hidden_dropout_prob" => bert with { HiddenDropoutProb = r.Double(q) },
                        "attention_probs_dropout_prob" => bert with { AttentionProbsDropoutProb = r.Double(q) },
                        "initializer_range" => bert with { InitializerRange = r.Double(q) },
                        "pad_token_id" => bert with { PadTokenId = r.Int(q) },
                        "fusion_layer" => bert with { FusionLayer = r.Int(q) },
                        "encoder_width" => bert with { EncoderWidth = r.Int(q) },
                        // Descriptive keys of config_bert.json: checked, not stored.
                        "hidden_act" => r.Expect(q, "gelu", bert),
                        "model_type" => r.Expect(q, "bert", bert),
                        "position_embedding_type" => r.Expect(q, "absolute", bert),
                        "architectures" => bert,
                        _ => throw new GroundSharpException($"{source}: unknown key 'bert.{q.Name}'"),
                    };
                    if (q.Name == "encoder_width") encoderWidthGiven = true;
                }
            }
            if (!encoderWidthGiven) bert = bert with { EncoderWidth = c.VisionWidth };
            return (c with { Bert = bert }).Validate(source);
        }
    }

    /// <summary>Writes the config in the same JSON format <see cref="Parse"/> reads.</summary>
    public string ToJson()
    {
        var o = new Dictionary<string, object?>
        {
            ["image_res"] = ImageRes, ["patch_size"] = PatchSize, ["vision_width"] = VisionWidth,
            ["vision_depth"] = VisionDepth, ["vision_heads"] = VisionHeads, ["vision_mlp_ratio"] = VisionMlpRatio,
            ["embed_dim"] = EmbedDim, ["gradcam_layer"] = EffectiveGradcamLayer, ["temp"] = Temp,
            ["queue_size"] = QueueSize, ["momentum"] = Momentum, ["alpha"] = Alpha,
            ["mlm_probability"] = MlmProbability, ["distill"] = Distill, ["max_words"] = MaxWords,
            ["bert"] = new Dictionary<string, object?>
            {
                ["vocab_size"] = Bert.VocabSize, ["hidden_size"] = Bert.HiddenSize,
                ["num_hidden_layers"] = Bert.NumHiddenLayers, ["num_attention_heads"] = Bert.NumAttentionHeads,
                ["intermediate_size"] = Bert.IntermediateSize, ["max_position_embeddings"] = Bert.MaxPositionEmbeddings,
                ["type_vocab_size"] = Bert.TypeVocabSize, ["layer_norm_eps"] = Bert.LayerNormEps,
                ["hidden_dropout_prob"] = Bert.HiddenDropoutProb, ["attention_probs_dropout_prob"] = Bert.AttentionProbsDropoutProb,
                ["initializer_range"] = Bert.InitializerRange, ["pad_token_id"] = Bert.PadTokenId,
                ["fusion_layer"] = Bert.FusionLayer, ["encoder_width"] = Bert.EncoderWidth, ["hidden_act"] = "gelu",
            },
        };
        // Written only when off, so that ALBEF configs (and the experiments' recorded settings) read as before.
        if (!FusionReadsImageCls) o["fusion_reads_image_cls"] = false;
        if (ItmReadsTextMean) o["itm_reads_text_mean"] = true;
        if (CrossAttentionInitScale != 1.0) o["cross_attention_init_scale"] = CrossAttentionInitScale;
        if (PatchStem == PatchStem.Conv) o["patch_stem"] = "conv";
        return JsonSerializer.Serialize(o, new JsonSerializerOptions { WriteIndented = true });
    }

    private sealed class JsonReaderHelper(string source)
    {
        public string String(JsonProperty p) =>
            p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()!
                : throw new GroundSharpException($"{source}: '{p.Name}' must be a string, got {p.Value.GetRawText()}");
        public int Int(JsonProperty p) =>
            p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out var v) ? v
                : throw new GroundSharpException($"{source}: '{p.Name}' must be an integer, got {p.Value.GetRawText()}");
        public double Double(JsonProperty p) =>
            p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble()
                : throw new GroundSharpException($"{source}: '{p.Name}' must be a number, got {p.Value.GetRawText()}");
        public bool Bool(JsonProperty p) =>
            p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False ? p.Value.GetBoolean()
                : throw new GroundSharpException($"{source}: '{p.Name}' must be true or false, got {p.Value.GetRawText()}");
        public T Expect<T>(JsonProperty p, string expected, T value) =>
            p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == expected ? value
                : throw new GroundSharpException($"{source}: '{p.Name}' = {p.Value.GetRawText()} is not supported (only \"{expected}\")");
    }
}
