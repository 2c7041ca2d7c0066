using GroundSharp.Eval;
using GroundSharp.Rec;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Rec;

public class DetectorTests
{
    [Fact]
    public void ForwardGivesThreeScalesWithThreeAnchorsPerCell()
    {
        var config = TinyRec.Detector(classes: 3);
        using var model = new YoloV3(config, seed: 1);
        model.eval();
        using var images = rand(2, 3, 64, 64);
        using var output = model.Forward(images);
        Assert.Equal(new long[] { 2, 3, 2, 2, 8 }, output.Raw[0].shape);
        Assert.Equal(new long[] { 2, 3, 4, 4, 8 }, output.Raw[1].shape);
        Assert.Equal(new long[] { 2, 3, 8, 8, 8 }, output.Raw[2].shape);
        Assert.Equal(new long[] { 2, config.FeatureChannels(0), 2, 2 }, output.Features[0].shape);
        Assert.Equal(new long[] { 2, config.FeatureChannels(2), 8, 8 }, output.Features[2].shape);
    }

    [Fact]
    public void DecodeFollowsTheYoloV3Formulas()
    {
        var config = TinyRec.Detector(classes: 1);
        using var model = new YoloV3(config, seed: 1);
        using var raw = zeros(new long[] { 1, 3, 2, 2, 6 });
        raw[0, 1, 1, 0, 2] = tensor(MathF.Log(2f)); // anchor 1 of scale 0 (anchor 7: 48×56), row 1, col 0, tw = ln 2
        using var decoded = model.Decode(raw, 0);
        var box = decoded[0, 1, 1, 0].data<float>().ToArray();
        // centre ((0.5 + 0)·32, (0.5 + 1)·32) = (16, 48); w = 48·2 = 96, h = 56.
        Assert.Equal(new[] { 16f - 48, 48f - 28, 16f + 48, 48f + 28, 0.5f, 0.5f }, box, new FloatComparer(1e-4f));
    }

    [Fact]
    public void NmsKeepsTheBestBoxPerClusterAndClass()
    {
        var detections = new List<Detection>
        {
            new(new Box(0, 0, 10, 10), 0.9, 0),
            new(new Box(1, 1, 11, 11), 0.8, 0),   // IoU 81/119 = 0.68 with the first: suppressed
            new(new Box(1, 1, 11, 11), 0.7, 1),   // other class: kept
            new(new Box(20, 20, 30, 30), 0.6, 0), // no overlap: kept
            new(new Box(5, 0, 15, 10), 0.95, 0),  // IoU 50/150 = 0.33 with the first: both kept
        };
        var kept = Nms.PerClass(detections, 0.45);
        Assert.Equal(new[] { 0.95, 0.9, 0.7, 0.6 }, kept.Select(d => d.Score));
        Assert.Equal(new[] { 0, 0, 1, 0 }, kept.Select(d => d.ClassIndex));
        Assert.Equal(50.0 / 150, Nms.ContinuousIou(detections[0].Box, detections[4].Box), 12);
        Assert.Single(Nms.PerClass(detections.Take(2).ToList(), 0.5));
        Assert.Equal(2, Nms.PerClass(detections.Take(2).ToList(), 0.7).Count);
    }

    [Fact]
    public void DetectReturnsBoxesAboveTheThresholdAfterNms()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 3);
        model.eval();
        using var images = rand(1, 3, 64, 64);
        var all = model.Detect(images, scoreThreshold: 0.0, nmsIou: 1.0);
        Assert.Equal(3 * (4 + 16 + 64), all[0].Count); // threshold 0 and IoU 1 keep every anchor
        var none = model.Detect(images, scoreThreshold: 1.01);
        Assert.Empty(none[0]);
    }

    [Fact]
    public void TinyDetectorOverfitsOneImage()
    {
        var config = TinyRec.Detector(classes: 2);
        using var model = new YoloV3(config, seed: 5);
        using var images = rand(new long[] { 1, 3, 64, 64 }, generator: new Generator(7));
        var labels = new List<IReadOnlyList<LabeledBox>> { new[] { new LabeledBox(new Box(8, 10, 28, 30), 1), new LabeledBox(new Box(30, 28, 62, 60), 0) } };
        var losses = DetectorTrainer.Train(model, new DetectionData(images, labels),
            new DetectorTrainingOptions { Epochs = 25, BatchSize = 1, LearningRate = 3e-3, WeightDecay = 0 });
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < 0.5 * losses[0], $"loss went from {losses[0]} to {losses[^1]}");
        Assert.False(model.training);
    }

    [Fact]
    public void LossAssignsEachBoxToItsBestAnchor()
    {
        var loss = new YoloLoss(TinyRec.Detector());
        Assert.Equal(0, loss.BestAnchor(4, 5));
        Assert.Equal(7, loss.BestAnchor(50, 50));
        Assert.Equal(3, loss.BestAnchor(10, 21));
    }

    [Fact]
    public void SaveAndLoadRoundTripTheDetector()
    {
        using var model = new YoloV3(TinyRec.Detector(), seed: 9);
        var path = Path.Combine(Path.GetTempPath(), $"gs-yolo-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using var loaded = YoloV3.Load(path);
            Assert.Equal(model.Config.InputSize, loaded.Config.InputSize);
            Assert.Equal(model.Config.StageDepths, loaded.Config.StageDepths);
            model.eval();
            loaded.eval();
            using var images = rand(1, 3, 64, 64);
            using var a = model.Forward(images);
            using var b = loaded.Forward(images);
            Assert.True(a.Raw[1].equal(b.Raw[1]).all().item<bool>());
        }
        finally
        {
            File.Delete(path);
        }
    }
}

internal sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(float obj) => 0;
}
