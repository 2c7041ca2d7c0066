using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>The header of a Darknet <c>.weights</c> file.</summary>
public readonly record struct DarknetWeightsHeader(int Major, int Minor, int Revision, long ImagesSeen)
{
    /// <summary>Darknet stores "images seen" as a 64-bit size_t from version 0.2 on, as a 32-bit int before.</summary>
    public static bool HasWideSeenCounter(int major, int minor) => major * 10 + minor >= 2 && major < 1000 && minor < 1000;

    public int Size => HasWideSeenCounter(Major, Minor) ? 20 : 16;
}

/// <summary>One convolutional layer of a <c>.weights</c> file and the module it fills.</summary>
/// <param name="DarknetIndex">The layer's index in the cfg file (counting shortcut, route, upsample and yolo layers).</param>
/// <param name="Name">Our state-dict prefix of the conv, e.g. <c>backbone.stages.2.blocks.0.conv1.conv</c>.</param>
/// <param name="Norm">The batch norm following the conv, or null for a linear output conv with bias.</param>
public sealed record DarknetConvLayer(int DarknetIndex, string Name, Conv2d Conv, BatchNorm2d? Norm)
{
    /// <summary>Floats this layer occupies in the file: BN beta, gamma, mean, variance (or the bias), then the weights.</summary>
    public long FloatCount => (Norm is null ? Conv.bias!.numel() : 4 * Norm.weight!.numel()) + Conv.weight!.numel();

    public string Describe() => $"layer {DarknetIndex} ({Name}, {(Norm is null ? "conv with bias" : "conv + batch norm")}, weight [{string.Join(", ", Conv.weight!.shape)}])";
}

/// <summary>
/// Reads Darknet <c>.weights</c> files (the format of the public <c>yolov3.weights</c> and <c>darknet53.conv.74</c>)
/// into a <see cref="YoloV3"/>. Layout: int32 major, minor, revision; images seen (int64 if major·10+minor ≥ 2,
/// else int32); then, for every convolutional layer in cfg order, all little-endian float32: with batch norm
/// beta (bias), gamma (weight), running mean, running variance, then the conv weights (out, in, kh, kw); without
/// it the conv bias then the weights. Nothing else is stored: shapes come from the model, so the file must hold
/// exactly the floats the model needs. See docs/rec.md for the layer order.
/// </summary>
public static class DarknetWeights
{
    /// <summary>
    /// The conv layers in the order Darknet's <c>yolov3.cfg</c> defines them (the stem, each stage's stride-2
    /// conv then its blocks' 1×1 and 3×3 convs; then per scale the five neck convs, the 3×3 conv and the output
    /// conv, with the 1×1 lateral conv before the finer scales). <paramref name="backboneOnly"/> lists the
    /// backbone's convs only, the content of <c>darknet53.conv.74</c>.
    /// </summary>
    public static List<DarknetConvLayer> ConvLayers(YoloV3 model, bool backboneOnly = false)
    {
        var layers = new List<DarknetConvLayer>();
        int index = 0;
        void Add(string name, ConvBnLeaky block) => layers.Add(new DarknetConvLayer(index++, name + ".conv", block.conv, block.bn));

        Add("backbone.stem", model.backbone.stem);
        for (int s = 0; s < model.backbone.stages.Count; s++)
        {
            var stage = model.backbone.stages[s];
            Add($"backbone.stages.{s}.down", stage.down);
            for (int b = 0; b < stage.blocks.Count; b++)
            {
                Add($"backbone.stages.{s}.blocks.{b}.conv1", stage.blocks[b].conv1);
                Add($"backbone.stages.{s}.blocks.{b}.conv2", stage.blocks[b].conv2);
                index++; // [shortcut]
            }
        }
        if (backboneOnly) return layers;

        void AddBranch(string name, YoloBranch branch)
        {
            for (int i = 0; i < branch.convs.Count; i++) Add($"{name}.convs.{i}", branch.convs[i]);
            Add($"{name}.expand", branch.expand);
            layers.Add(new DarknetConvLayer(index++, $"{name}.output", branch.output, null));
            index++; // [yolo]
        }
        AddBranch("head32", model.head32);
        index++; // [route] -4
        Add("lateral16", model.lateral16);
        index += 2; // [upsample], [route] -1, 61
        AddBranch("head16", model.head16);
        index++; // [route] -4
        Add("lateral8", model.lateral8);
        index += 2; // [upsample], [route] -1, 36
        AddBranch("head8", model.head8);
        return layers;
    }

    /// <summary>
    /// Fills <paramref name="model"/> from a <c>.weights</c> file; with <paramref name="backboneOnly"/> the file
    /// must hold the backbone alone (<c>darknet53.conv.74</c>) and the neck/head keep their values.
    /// </summary>
    /// <exception cref="GroundSharpException">The file is missing, shorter or longer than the model needs (the
    /// message names the file, the layer where it ends, and what the size would fit).</exception>
    public static DarknetWeightsHeader Load(YoloV3 model, string path, bool backboneOnly = false)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"Darknet weights file '{path}' does not exist");
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        long length = stream.Length;
        if (length < 12) throw new GroundSharpException($"Darknet weights file '{path}' is {length} bytes long, too short for the header");
        int major = reader.ReadInt32(), minor = reader.ReadInt32(), revision = reader.ReadInt32();
        bool wide = DarknetWeightsHeader.HasWideSeenCounter(major, minor);
        if (length < (wide ? 20 : 16)) throw new GroundSharpException($"Darknet weights file '{path}' ends inside the header (version {major}.{minor}.{revision})");
        long seen = wide ? reader.ReadInt64() : reader.ReadInt32();
        var header = new DarknetWeightsHeader(major, minor, revision, seen);

        var layers = ConvLayers(model, backboneOnly);
        long available = length - header.Size;
        long needed = layers.Sum(l => l.FloatCount) * sizeof(float);
        if (available != needed)
            throw new GroundSharpException(SizeMismatchMessage(model, path, layers, available, needed, backboneOnly));

        using var _ = no_grad();
        foreach (var layer in layers)
        {
            if (layer.Norm is { } norm)
            {
                Fill(reader, norm.bias!, path, layer, "batch-norm beta");
                Fill(reader, norm.weight!, path, layer, "batch-norm gamma");
                Fill(reader, norm.running_mean!, path, layer, "running mean");
                Fill(reader, norm.running_var!, path, layer, "running variance");
            }
            else
            {
                Fill(reader, layer.Conv.bias!, path, layer, "bias");
            }
            Fill(reader, layer.Conv.weight!, path, layer, "weights");
        }
        return header;
    }

    private static void Fill(BinaryReader reader, Tensor target, string path, DarknetConvLayer layer, string part)
    {
        var bytes = reader.ReadBytes(checked((int)(target.numel() * sizeof(float))));
        if (bytes.Length != target.numel() * sizeof(float))
            throw new GroundSharpException($"Darknet weights file '{path}' ends inside the {part} of {layer.Describe()}");
        var values = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        using var source = tensor(values, target.shape, ScalarType.Float32);
        target.copy_(source);
    }

    private static string SizeMismatchMessage(YoloV3 model, string path, List<DarknetConvLayer> layers, long available, long needed, bool backboneOnly)
    {
        string what = backboneOnly ? "the backbone alone" : "the full detector";
        var message = $"Darknet weights file '{path}' holds {available} bytes of weights, but {what} ({layers.Count} conv layers, " +
            $"stage depths [{string.Join(", ", model.Config.StageDepths)}], width ×{model.Config.WidthMultiple}, {model.Config.NumClasses} classes) needs {needed}";
        if (available < needed)
        {
            long offset = 0;
            foreach (var layer in layers)
            {
                offset += layer.FloatCount * sizeof(float);
                if (offset > available) { message += $"; the file ends inside {layer.Describe()} (truncated file, or a smaller model)"; break; }
            }
        }
        else
        {
            message += $"; {available - needed} bytes are left over after the last {layers[^1].Describe()}";
        }

        long backboneBytes = ConvLayers(model, backboneOnly: true).Sum(l => l.FloatCount) * sizeof(float);
        if (!backboneOnly && available == backboneBytes)
            message += ". The size matches the backbone alone (like darknet53.conv.74): load it with the backbone-only option";
        else if (backboneOnly && available > needed)
            message += ". A full YOLOv3 file (like yolov3.weights) must be loaded without the backbone-only option";
        if (FittingClassCount(model, available) is { } classes && classes != model.Config.NumClasses)
            message += $". The size would fit a detector with {classes} classes";
        return message;
    }

    /// <summary>The class count whose full detector has exactly <paramref name="available"/> bytes of weights, if any.</summary>
    private static int? FittingClassCount(YoloV3 model, long available)
    {
        // Only the three output convs depend on the class count: each holds (in + 1)·3·(5 + classes) floats.
        var full = ConvLayers(model);
        long fixedFloats = full.Where(l => l.Norm is not null).Sum(l => l.FloatCount);
        long perValue = full.Where(l => l.Norm is null).Sum(l => (l.Conv.weight!.shape[1] + 1) * DetectorConfig.AnchorsPerCell);
        long rest = available / sizeof(float) - fixedFloats;
        if (available % sizeof(float) != 0 || rest <= 0 || rest % perValue != 0) return null;
        long values = rest / perValue;
        return values > 5 && values - 5 <= int.MaxValue ? (int)(values - 5) : null;
    }
}
