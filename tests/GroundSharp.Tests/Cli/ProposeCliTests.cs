using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Rec;
using GroundSharp.Tests.Rec;
using SkiaSharp;
using Xunit;

namespace GroundSharp.Tests.Cli;

/// <summary><c>propose</c>: a Darknet .weights detector over a RefCOCO-layout folder, written as the dets.json <c>eval --proposals</c> reads.</summary>
[Trait("Category", "EndToEnd")]
public class ProposeCliTests
{
    /// <summary>A folder with refs.json, one grounding file and two images (ids 11 and 12).</summary>
    private static string RefFolder()
    {
        var dir = CliProcess.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "images"));
        foreach (var (name, w, h) in new[] { ("a.png", 96, 64), ("b.png", 64, 80) })
        {
            using var bitmap = new SKBitmap(w, h);
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(SKColors.DarkGray);
                using var paint = new SKPaint { Color = SKColors.Red };
                canvas.DrawRect(10, 10, 30, 25, paint);
            }
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(dir, "images", name), data.ToArray());
        }
        File.WriteAllText(Path.Combine(dir, "refs.json"), """
            {"images": [{"id": 11, "width": 96, "height": 64, "file_name": "a.png"}, {"id": 12, "width": 64, "height": 80, "file_name": "b.png"}],
             "annotations": [{"id": 1, "image_id": 11, "bbox": [10, 10, 20, 15], "category_id": 1}, {"id": 2, "image_id": 12, "bbox": [10, 10, 20, 15], "category_id": 1}],
             "refs": [{"ref_id": 1, "ann_id": 1, "image_id": 11, "split": "val"}, {"ref_id": 2, "ann_id": 2, "image_id": 12, "split": "val"}]}
            """);
        File.WriteAllText(Path.Combine(dir, "tiny_val.json"), """
            [{"image": "a.png", "text": "the red box", "ref_id": 1}, {"image": "b.png", "text": "red square", "ref_id": 2}]
            """);
        return dir;
    }

    /// <summary>A .weights file in Darknet's layout for the tiny detector (header 0.2.5, then every conv's floats), and its config JSON.</summary>
    private static (string Weights, string Config) TinyDarknet(string dir, int classes = 2)
    {
        using var model = new YoloV3(TinyRec.Detector(classes), seed: 3);
        var weights = Path.Combine(dir, "tiny.weights");
        DarknetFile.Write(model, weights);
        var config = Path.Combine(dir, "detector.json");
        File.WriteAllText(config, RecJson.Serialize(TinyRec.Detector(classes)));
        return (weights, config);
    }

    private static void AssertCleanError(CliProcess.Result r, string mustContain) => CliProcess.AssertCleanError(r, mustContain);

    [Fact]
    public void WritesDetsJsonThatEvalReadsAndRefusesBadDetectors()
    {
        var dir = RefFolder();
        var (weights, config) = TinyDarknet(CliProcess.TempDir());
        var r = CliProcess.Run("propose", "--data", dir, "--detector", weights, "--detector-config", config, "--max", "5");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var dets = Path.Combine(dir, "dets.json");
        using (var doc = JsonDocument.Parse(File.ReadAllText(dets)))
        {
            Assert.Equal(["11", "12"], doc.RootElement.EnumerateObject().Select(p => p.Name));
            foreach (var image in doc.RootElement.EnumerateObject())
            {
                var boxes = image.Value.EnumerateArray().ToList();
                Assert.InRange(boxes.Count, 1, 5);
                Assert.All(boxes, b => Assert.Equal(5, b.GetArrayLength()));
                var scores = boxes.Select(b => b[4].GetDouble()).ToList();
                Assert.Equal(scores.OrderByDescending(s => s).ToList(), scores);
            }
        }
        var proposals = RefGrounding.ReadProposals(dets);
        Assert.Equal(2, proposals.Count);

        // The default output is not overwritten; a truncated file and a class count the file does not hold are refused.
        AssertCleanError(CliProcess.Run("propose", "--data", dir, "--detector", weights, "--detector-config", config), "dets.json exists");
        var other = Path.Combine(CliProcess.TempDir(), "d.json");
        var bytes = File.ReadAllBytes(weights);
        var truncated = Path.Combine(CliProcess.TempDir(), "cut.weights");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        AssertCleanError(CliProcess.Run("propose", "--data", dir, "--detector", truncated, "--detector-config", config, "--out", other), "cut.weights");
        var (_, config80) = TinyDarknet(CliProcess.TempDir(), classes: 80);
        AssertCleanError(CliProcess.Run("propose", "--data", dir, "--detector", weights, "--detector-config", config80, "--out", other), "tiny.weights");
        AssertCleanError(CliProcess.Run("propose", "--data", CliProcess.TempDir(), "--detector", weights, "--out", other), "refs.json");
        Assert.False(File.Exists(other));
    }
}
