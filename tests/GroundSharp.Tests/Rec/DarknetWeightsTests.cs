using GroundSharp.Rec;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Rec;

public class DarknetWeightsTests
{
    [Fact]
    public void LayerOrderMatchesTheIndicesOfYoloV3Cfg()
    {
        // Full depth (1, 2, 8, 8, 4) at a tiny width: the layer numbering of yolov3.cfg.
        using var model = new YoloV3(TinyRec.Detector() with { StageDepths = [1, 2, 8, 8, 4], WidthMultiple = 1.0 / 32 }, seed: 0);
        var backbone = DarknetWeights.ConvLayers(model, backboneOnly: true);
        Assert.Equal(52, backbone.Count);
        Assert.Equal(73, backbone[^1].DarknetIndex);
        var all = DarknetWeights.ConvLayers(model);
        Assert.Equal(75, all.Count);
        int Index(string name) => all.Single(l => l.Name == name).DarknetIndex;
        Assert.Equal(0, Index("backbone.stem.conv"));
        Assert.Equal(1, Index("backbone.stages.0.down.conv"));
        Assert.Equal(2, Index("backbone.stages.0.blocks.0.conv1.conv"));
        Assert.Equal(5, Index("backbone.stages.1.down.conv"));
        Assert.Equal(12, Index("backbone.stages.2.down.conv"));
        Assert.Equal(37, Index("backbone.stages.3.down.conv"));
        Assert.Equal(62, Index("backbone.stages.4.down.conv"));
        Assert.Equal(75, Index("head32.convs.0.conv"));
        Assert.Equal(80, Index("head32.expand.conv"));
        Assert.Equal(81, Index("head32.output"));
        Assert.Equal(84, Index("lateral16.conv"));
        Assert.Equal(87, Index("head16.convs.0.conv"));
        Assert.Equal(93, Index("head16.output"));
        Assert.Equal(96, Index("lateral8.conv"));
        Assert.Equal(99, Index("head8.convs.0.conv"));
        Assert.Equal(105, Index("head8.output"));
        Assert.Equal(256 / 32 + 512 / 32, model.head16.convs[0].conv.weight!.shape[1]); // route -1, 61: upsampled 256 + backbone 512
        Assert.Null(all.Single(l => l.Name == "head8.output").Norm);
    }

    /// <summary>
    /// Writes a .weights file in the documented layout: int32 major, minor, revision, the images-seen counter,
    /// then per conv layer BN beta, gamma, mean, variance (or the bias) and the weights, as float32. Value k
    /// of the file is k + 1, so every tensor's position in the file is visible in its values.
    /// </summary>
    private static (string Path, long Floats) WriteWeights(YoloV3 model, bool backboneOnly, int major = 0, int minor = 2, long extraFloats = 0, long dropBytes = 0)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gs-darknet-{Guid.NewGuid():N}.weights");
        long floats = DarknetWeights.ConvLayers(model, backboneOnly).Sum(l => l.FloatCount) + extraFloats;
        using (var stream = new MemoryStream())
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(major);
            writer.Write(minor);
            writer.Write(5); // revision
            if (major * 10 + minor >= 2) writer.Write(123456789L); else writer.Write(1234);
            for (long k = 0; k < floats; k++) writer.Write((float)(k + 1));
            writer.Flush();
            File.WriteAllBytes(path, stream.ToArray().AsSpan(0, (int)(stream.Length - dropBytes)).ToArray());
        }
        return (path, floats);
    }

    private static float[] Values(Tensor t) => t.detach().flatten().data<float>().ToArray();

    [Fact]
    public void ValuesLandInTheRightBatchNormAndConvTensors()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 0);
        var (path, floats) = WriteWeights(model, backboneOnly: false);
        try
        {
            var header = DarknetWeights.Load(model, path);
            Assert.Equal((0, 2, 5, 123456789L), (header.Major, header.Minor, header.Revision, header.ImagesSeen));

            // Stem: 2 output channels, 3×3×3 weights. File order: beta 1-2, gamma 3-4, mean 5-6, var 7-8, weights 9-62.
            var stem = model.backbone.stem;
            Assert.Equal(new float[] { 1, 2 }, Values(stem.bn.bias!));
            Assert.Equal(new float[] { 3, 4 }, Values(stem.bn.weight!));
            Assert.Equal(new float[] { 5, 6 }, Values(stem.bn.running_mean!));
            Assert.Equal(new float[] { 7, 8 }, Values(stem.bn.running_var!));
            Assert.Equal(Enumerable.Range(9, 54).Select(i => (float)i).ToArray(), Values(stem.conv.weight!));
            // The next layer (stage 0's stride-2 conv, 4 channels) starts right after.
            Assert.Equal(new float[] { 63, 64, 65, 66 }, Values(model.backbone.stages[0].down.bn.bias!));

            // The last layer is head8's output conv: bias, then weights, ending at the file's last float.
            var output = model.head8.output;
            long weights = output.weight!.numel(), bias = output.bias!.numel();
            var outBias = Values(output.bias!);
            var outWeight = Values(output.weight!);
            Assert.Equal(floats - weights - bias + 1, outBias[0]);
            Assert.Equal(floats - weights + 1, outWeight[0]);
            Assert.Equal(floats, outWeight[^1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BackboneOnlyFileFillsTheBackboneAndLeavesTheHead()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 0);
        var headBefore = Values(model.head32.convs[0].conv.weight!);
        var (path, floats) = WriteWeights(model, backboneOnly: true, major: 0, minor: 1);
        try
        {
            var header = DarknetWeights.Load(model, path, backboneOnly: true);
            Assert.Equal(1234, header.ImagesSeen); // version 0.1: 32-bit counter
            Assert.Equal(new float[] { 1, 2 }, Values(model.backbone.stem.bn.bias!));
            Assert.Equal(floats, Values(model.backbone.stages[4].blocks[0].conv2.conv.weight!)[^1]);
            Assert.Equal(headBefore, Values(model.head32.convs[0].conv.weight!));

            var e = Assert.Throws<GroundSharpException>(() => DarknetWeights.Load(model, path));
            Assert.Contains(path, e.Message);
            Assert.Contains("matches the backbone alone", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TruncatedFileNamesTheLayerWhereItEnds()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 0);
        // Drop the last 10 bytes: the file ends inside head8's output conv (layer index of the last conv).
        var (path, _) = WriteWeights(model, backboneOnly: false, dropBytes: 10);
        try
        {
            var e = Assert.Throws<GroundSharpException>(() => DarknetWeights.Load(model, path));
            Assert.Contains(path, e.Message);
            int last = DarknetWeights.ConvLayers(model)[^1].DarknetIndex;
            Assert.Contains($"ends inside layer {last} (head8.output", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SizeMismatchReportsLeftoverBytesAndTheFittingClassCount()
    {
        using var model = new YoloV3(TinyRec.Detector(classes: 2), seed: 0);
        using var bigger = new YoloV3(TinyRec.Detector(classes: 4), seed: 0);
        var (path, _) = WriteWeights(bigger, backboneOnly: false);
        try
        {
            var e = Assert.Throws<GroundSharpException>(() => DarknetWeights.Load(model, path));
            Assert.Contains(path, e.Message);
            Assert.Contains("bytes are left over after the last layer", e.Message);
            Assert.Contains("would fit a detector with 4 classes", e.Message);
            DarknetWeights.Load(bigger, path); // the model it was written for reads it
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingAndHeaderOnlyFilesGiveClearErrors()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 0);
        var missing = Assert.Throws<GroundSharpException>(() => DarknetWeights.Load(model, "/no/such/yolov3.weights"));
        Assert.Contains("/no/such/yolov3.weights", missing.Message);
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gs-darknet-{Guid.NewGuid():N}.weights");
        File.WriteAllBytes(path, new byte[14]);
        try
        {
            var e = Assert.Throws<GroundSharpException>(() => DarknetWeights.Load(model, path));
            Assert.Contains("ends inside the header", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
