using GroundSharp.Data;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Experiments;
using GroundSharp.Rec;
using GroundSharp.Tests.Cli;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Rec;

/// <summary>The pieces the REC CLI adds: box mapping, synthetic detector labels, the per-image encoding cache.</summary>
public class RecPipelineTests
{
    [Fact]
    public void BoxMappingToTheInputAndBackIsTheIdentity()
    {
        var box = new Box(10, 20, 110, 70);
        var input = DetectorInput.ToInput(box, 200, 100, 64);
        Assert.Equal([3.2, 12.8, 35.2, 44.8], new[] { input.X1, input.Y1, input.X2, input.Y2 }.Select(v => Math.Round(v, 9)));
        var back = DetectorInput.ToImage(input, 200, 100, 64);
        Assert.Equal([box.X1, box.Y1, box.X2, box.Y2], new[] { back.X1, back.Y1, back.X2, back.Y2 }.Select(v => Math.Round(v, 9)));
    }

    [Fact]
    public void DetectorLabelsHoldEverySceneObjectAndEveryPhraseBox()
    {
        var dir = Path.Combine(CliProcess.TempDir(), "synth");
        var options = SynthBenchmarkOptions.Tiny(5);
        SynthBenchmark.Write(options, dir);
        var labels = SynthDetectionLabels.Read(dir);
        Assert.Equal(options.Boxes, labels.Count);
        for (int i = 0; i < labels.Count; i++)
        {
            var scene = SynthBenchmark.GenerateScene(options, SynthSplits.Boxes, i);
            Assert.Equal(scene.Scene.Objects.Select(o => (o.Box, o.Shape)), labels[i].Objects);
            foreach (var phrase in scene.Phrases) Assert.Contains((phrase.Box, phrase.Shape), labels[i].Objects);
        }
        Assert.Equal(options, SynthDetectionLabels.ReadOptions(dir));
    }

    [Fact]
    public void DetectorLabelsRefuseAnEditedPhraseFile()
    {
        var dir = Path.Combine(CliProcess.TempDir(), "synth");
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(6), dir);
        var file = Path.Combine(dir, "boxes.jsonl");
        var lines = File.ReadAllLines(file);
        var sample = GroundingSampleFile.Parse(lines[0], dir, file);
        var box = sample.Box!.Value;
        lines[0] = GroundingSampleFile.ToJsonLine(sample with { Box = box with { X2 = box.X2 + 1 } });
        File.WriteAllLines(file, lines);
        var e = Assert.Throws<GroundSharpException>(() => SynthDetectionLabels.Read(dir));
        Assert.Contains("no object of the scene", e.Message);
    }

    [Fact]
    public void CachedEncodingsGiveTheSameLossAsTheImages()
    {
        using var model = TinyRecModel.Create(seed: 3);
        using var images = rand(new long[] { 5, 3, 64, 64 }, generator: new Generator(4));
        using var cache = model.EncodeImages(images, chunkSize: 2);
        Assert.Equal(5, cache.Count);
        var texts = new[] { "red cube left", "blue ball", "green cone right" };
        long[] rows = [4, 0, 2];
        using var direct = model.Loss(images.index_select(0, tensor(rows)), texts);
        using var selected = cache.Select(rows);
        using var cached = model.Loss(selected, texts);
        // Equal up to float noise: the detector saw a different batch composition (chunks of 2 vs the 3 selected images).
        Assert.Equal(direct.Total.item<float>(), cached.Total.item<float>(), tolerance: 1e-4);
        Assert.Equal(cache.Boxes.index_select(0, tensor(rows)).data<float>().ToArray(), selected.Boxes.data<float>().ToArray());
    }
}
