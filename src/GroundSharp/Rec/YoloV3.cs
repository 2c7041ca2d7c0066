using TorchSharp;
using TorchSharp.Modules;
using GroundSharp.Eval;
using GroundSharp.IO;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

/// <summary>
/// One YOLOv3 output branch as in <c>yolov3.cfg</c>: five alternating 1×1/3×3 convs (the last one's output is
/// the route the next, finer scale reads), a 3×3 conv (<c>expand</c>, whose output we expose as the scale's
/// feature map), and a linear 1×1 output conv with bias giving 3·(5+classes) channels.
/// </summary>
public sealed class YoloBranch : nn.Module
{
    public readonly ModuleList<ConvBnLeaky> convs;
    public readonly ConvBnLeaky expand;
    public readonly Conv2d output;

    public YoloBranch(long inChannels, long mid, long outputs) : base(nameof(YoloBranch))
    {
        convs = new ModuleList<ConvBnLeaky>(
            new ConvBnLeaky(inChannels, mid, 1),
            new ConvBnLeaky(mid, 2 * mid, 3),
            new ConvBnLeaky(2 * mid, mid, 1),
            new ConvBnLeaky(mid, 2 * mid, 3),
            new ConvBnLeaky(2 * mid, mid, 1));
        expand = new ConvBnLeaky(mid, 2 * mid, 3);
        output = nn.Conv2d(2 * mid, outputs, 1, bias: true);
        RegisterComponents();
    }

    public (Tensor Route, Tensor Feature, Tensor Raw) Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var conv in convs) x = conv.Forward(x);
        var feature = expand.Forward(x);
        var raw = output.forward(feature);
        return (x.MoveToOuterDisposeScope(), feature.MoveToOuterDisposeScope(), raw.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// The outputs of a YOLOv3 forward pass, one entry per scale in Darknet's order (0: stride 32, 1: stride 16,
/// 2: stride 8). <see cref="Raw"/>[s] is (B, 3, H, W, 5+classes) before any activation (tx, ty, tw, th,
/// objectness, class logits); <see cref="Features"/>[s] is the (B, C, H, W) map the output conv reads.
/// </summary>
public sealed class YoloOutput(Tensor[] raw, Tensor[] features) : IDisposable
{
    public Tensor[] Raw { get; } = raw;
    public Tensor[] Features { get; } = features;

    public void Dispose()
    {
        foreach (var t in Raw) t.Dispose();
        foreach (var t in Features) t.Dispose();
    }
}

/// <summary>A detected object: a box in network-input pixels, the score objectness · class probability, the class.</summary>
public readonly record struct Detection(Box Box, double Score, int ClassIndex);

/// <summary>
/// YOLOv3 (Redmon and Farhadi, 2018): DarkNet-53 backbone and the three-scale neck/head of <c>yolov3.cfg</c>.
/// Modules are laid out so <see cref="DarknetWeights"/> can fill them in the order of the cfg file.
/// </summary>
public sealed class YoloV3 : nn.Module
{
    public readonly Darknet53 backbone;
    public readonly YoloBranch head32;
    public readonly ConvBnLeaky lateral16;
    public readonly YoloBranch head16;
    public readonly ConvBnLeaky lateral8;
    public readonly YoloBranch head8;

    public DetectorConfig Config { get; }

    /// <summary>Metadata key of the JSON config in a detector checkpoint written by <see cref="Save"/>.</summary>
    public const string ConfigMetadataKey = "groundsharp.detector.config";

    public YoloV3(DetectorConfig config, long? seed = null) : base(nameof(YoloV3))
    {
        Config = config.Validate();
        int outputs = DetectorConfig.AnchorsPerCell * config.ValuesPerAnchor;
        backbone = new Darknet53(config);
        head32 = new YoloBranch(config.Channels(1024), config.Channels(512), outputs);
        lateral16 = new ConvBnLeaky(config.Channels(512), config.Channels(256), 1);
        head16 = new YoloBranch(config.Channels(256) + config.Channels(512), config.Channels(256), outputs);
        lateral8 = new ConvBnLeaky(config.Channels(256), config.Channels(128), 1);
        head8 = new YoloBranch(config.Channels(128) + config.Channels(256), config.Channels(128), outputs);
        RegisterComponents();
        SeededInit.Apply(this, seed);
        InitObjectnessPrior();
    }

    /// <summary>Objectness biases start at logit(0.01): nearly every cell is background, so training starts calm.</summary>
    private void InitObjectnessPrior()
    {
        using var _ = no_grad();
        double prior = Math.Log(0.01 / 0.99);
        foreach (var branch in new[] { head32, head16, head8 })
            for (int a = 0; a < DetectorConfig.AnchorsPerCell; a++)
                branch.output.bias![a * Config.ValuesPerAnchor + 4].FillWith(prior);
    }

    /// <summary>Normalised images (B, 3, S, S), values in [0, 1] as Darknet feeds them → raw outputs and features per scale.</summary>
    public YoloOutput Forward(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3 || images.shape[2] % 32 != 0 || images.shape[3] % 32 != 0)
            throw new GroundSharpException($"the detector needs (B, 3, H, W) images with H and W multiples of 32; got [{string.Join(", ", images.shape)}]");
        using var scope = NewDisposeScope();
        var (c3, c4, c5) = backbone.Forward(images);
        var (route32, feature32, raw32) = head32.Forward(c5);
        var up16 = F.interpolate(lateral16.Forward(route32), scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        // Darknet's "route -1, 61" concatenates the upsampled map first, then the backbone map.
        var (route16, feature16, raw16) = head16.Forward(cat([up16, c4], 1));
        var up8 = F.interpolate(lateral8.Forward(route16), scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        var (_, feature8, raw8) = head8.Forward(cat([up8, c3], 1));
        var raw = new[] { raw32, raw16, raw8 }.Select(r => ToAnchorLayout(r).MoveToOuterDisposeScope()).ToArray();
        var features = new[] { feature32, feature16, feature8 }.Select(f => f.MoveToOuterDisposeScope()).ToArray();
        return new YoloOutput(raw, features);
    }

    /// <summary>(B, 3·V, H, W) → (B, 3, H, W, V), Darknet's channel order (anchor-major).</summary>
    private Tensor ToAnchorLayout(Tensor raw)
    {
        long b = raw.shape[0], h = raw.shape[2], w = raw.shape[3];
        return raw.view(b, DetectorConfig.AnchorsPerCell, Config.ValuesPerAnchor, h, w).permute(0, 1, 3, 4, 2).contiguous();
    }

    /// <summary>
    /// Decodes one scale's raw output (B, 3, H, W, 5+C) to (B, 3, H, W, 5+C) holding x1, y1, x2, y2 in input
    /// pixels, sigmoid objectness and sigmoid class probabilities:
    /// cx = (σ(tx) + col)·stride, cy = (σ(ty) + row)·stride, w = anchor_w·e^tw, h = anchor_h·e^th.
    /// </summary>
    public Tensor Decode(Tensor raw, int scale)
    {
        using var scope = NewDisposeScope();
        long h = raw.shape[2], w = raw.shape[3];
        double stride = DetectorConfig.Strides[scale];
        var mask = DetectorConfig.AnchorMask(scale);
        var anchorW = tensor(mask.Select(i => (float)Config.Anchors[i][0]).ToArray(), dtype: raw.dtype, device: raw.device).view(1, 3, 1, 1);
        var anchorH = tensor(mask.Select(i => (float)Config.Anchors[i][1]).ToArray(), dtype: raw.dtype, device: raw.device).view(1, 3, 1, 1);
        var cols = TensorScalars.Arange(w, raw.dtype, raw.device).view(1, 1, 1, w);
        var rows = TensorScalars.Arange(h, raw.dtype, raw.device).view(1, 1, h, 1);
        var cx = raw[TensorIndex.Ellipsis, 0].sigmoid().Plus(cols).MulBy(stride);
        var cy = raw[TensorIndex.Ellipsis, 1].sigmoid().Plus(rows).MulBy(stride);
        var bw = raw[TensorIndex.Ellipsis, 2].exp() * anchorW;
        var bh = raw[TensorIndex.Ellipsis, 3].exp() * anchorH;
        var halfW = bw.DivBy(2);
        var halfH = bh.DivBy(2);
        var boxes = stack([cx - halfW, cy - halfH, cx.Plus(halfW), cy.Plus(halfH)], -1);
        var scores = raw[TensorIndex.Ellipsis, TensorIndex.Slice(4)].sigmoid();
        return cat([boxes, scores], -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Plain detection: every anchor whose best class score (objectness · class probability) reaches
    /// <paramref name="scoreThreshold"/>, then per-class NMS at <paramref name="nmsIou"/>. Boxes are in input pixels.
    /// </summary>
    public List<List<Detection>> Detect(Tensor images, double scoreThreshold = 0.25, double nmsIou = 0.45)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var output = Forward(images);
        long batch = images.shape[0];
        var decoded = cat(Enumerable.Range(0, 3).Select(s => Decode(output.Raw[s], s).view(batch, -1, Config.ValuesPerAnchor)).ToArray(), 1)
            .to_type(ScalarType.Float64).cpu();
        var results = new List<List<Detection>>();
        for (long b = 0; b < batch; b++)
        {
            var rows = decoded[b];
            var classScores = rows.narrow(1, 5, Config.NumClasses) * rows.narrow(1, 4, 1);
            var (best, bestClass) = classScores.max(1);
            var keep = best.IsAtLeast(scoreThreshold).nonzero().view(-1).data<long>().ToArray();
            var boxes = rows.narrow(1, 0, 4).data<double>().ToArray();
            var scores = best.data<double>().ToArray();
            var classes = bestClass.data<long>().ToArray();
            var candidates = keep.Select(i => new Detection(
                new Box(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]), scores[i], (int)classes[i])).ToList();
            results.Add(Nms.PerClass(candidates, nmsIou));
        }
        return results;
    }

    /// <summary>Writes the weights (BN running statistics included) and the config to a safetensors file.</summary>
    public void Save(string path)
    {
        var state = state_dict();
        SafeTensors.Save(path, state, new Dictionary<string, string> { [ConfigMetadataKey] = RecJson.Serialize(Config) });
    }

    /// <summary>
    /// A detector from a GroundSharp checkpoint (<c>.safetensors</c>, config inside) or a Darknet <c>.weights</c>
    /// file (any other extension) with the config at <paramref name="configPath"/> (JSON, snake_case keys of
    /// <see cref="DetectorConfig"/>), by default Darknet's <c>yolov3.cfg</c>: DarkNet-53, 80 COCO classes, 416 px, COCO anchors.
    /// </summary>
    public static YoloV3 LoadAny(string path, string? configPath = null)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            if (configPath is not null) throw new GroundSharpException($"'{path}' holds its own detector config; a separate config applies only to Darknet .weights files");
            return Load(path);
        }
        var config = configPath is null ? new DetectorConfig() : ReadConfig(configPath);
        var model = new YoloV3(config, seed: 0);
        try
        {
            DarknetWeights.Load(model, path);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A <see cref="DetectorConfig"/> JSON file (missing keys keep Darknet's defaults).</summary>
    public static DetectorConfig ReadConfig(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"detector config '{path}' does not exist");
        return RecJson.Deserialize<DetectorConfig>(File.ReadAllText(path), path).Validate(path);
    }

    /// <summary>Reads a detector written by <see cref="Save"/>.</summary>
    public static YoloV3 Load(string path)
    {
        var (tensors, metadata) = SafeTensors.Load(path);
        try
        {
            if (!metadata.TryGetValue(ConfigMetadataKey, out var json))
                throw new GroundSharpException($"'{path}' has no '{ConfigMetadataKey}' metadata: it is not a GroundSharp detector checkpoint");
            var model = new YoloV3(RecJson.Deserialize<DetectorConfig>(json, path), seed: 0);
            StateDicts.LoadStrict(model, tensors, path);
            return model;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
