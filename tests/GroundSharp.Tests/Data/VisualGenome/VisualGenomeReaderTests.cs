using System.Text;
using GroundSharp.Data;
using GroundSharp.Data.VisualGenome;
using GroundSharp.Tests.Cli;
using Xunit;
using static GroundSharp.Tests.Data.VisualGenome.VgTestData;

namespace GroundSharp.Tests.Data.VisualGenome;

public class VisualGenomeReaderTests
{
    [Fact]
    public void JoinsFilesInAnotherOrderAndImagesMissingFromAFile()
    {
        var data = new VgTestData();
        for (int id = 1; id <= 6; id++) data.Image(id, 100, 100, [Obj(id, 0, 0, 50, 50, "cup", $"colour{id}")]);
        // attributes.json reversed and without image 3.
        string dir = data.Write(list => list.AsEnumerable().Reverse().Where((_, i) => i != 3));
        using var reader = new VisualGenomeReader(dir);
        var images = reader.ReadImages().ToList();
        Assert.Equal([1L, 2, 3, 4, 5, 6], images.Select(i => i.Image.ImageId).ToArray());
        foreach (var image in images)
        {
            var cup = Assert.Single(image.Objects);
            if (image.Image.ImageId == 3) Assert.Empty(cup.Attributes);
            else Assert.Equal([$"colour{image.Image.ImageId}"], cup.Attributes);
        }
        Assert.Equal(0, reader.IndexedOutOfOrder);
    }

    [Fact]
    public void ObjectsComeFromAttributesWhenObjectsFileIsAbsent()
    {
        string dir = new VgTestData().Image(1, 100, 100, [Obj(5, 1, 2, 30, 40, "Dog", "brown")]).Write();
        File.Delete(Path.Combine(dir, "objects.json"));
        using var reader = new VisualGenomeReader(dir);
        var obj = Assert.Single(Assert.Single(reader.ReadImages()).Objects);
        Assert.Equal(["Dog"], obj.Names);
        Assert.Equal(["brown"], obj.Attributes);
        Assert.Equal(GroundSharp.Eval.Box.FromXywh(1, 2, 30, 40), obj.Box);
    }

    [Fact]
    public void StreamsElementByElementWithABufferThatFollowsTheLargestElementNotTheFile()
    {
        // 20,000 images (about 2 MB of JSON) read with a 1 KiB starting buffer.
        string path = Path.Combine(CliProcess.TempDir(), "image_data.json");
        using (var w = new StreamWriter(path, false, new UTF8Encoding(false)))
        {
            w.Write("[\n");
            for (int i = 0; i < 20_000; i++)
                w.Write($"{(i > 0 ? ",\n" : "")}{{\"width\": 800, \"url\": \"https://cs.stanford.edu/people/rak248/VG_100K/{i}.jpg\", \"height\": 600, \"image_id\": {i}, \"coco_id\": null, \"flickr_id\": null}}");
            w.Write("\n]");
        }
        using var reader = new JsonArrayReader(path, initialBufferBytes: 1024);
        int count = 0;
        long lastOffset = -1;
        foreach (var element in reader.ReadAll())
        {
            Assert.Equal(count, element.Index);
            Assert.True(element.Offset > lastOffset);
            lastOffset = element.Offset;
            using var doc = reader.Parse(element);
            Assert.Equal(count, doc.RootElement.GetProperty("image_id").GetInt64());
            count++;
        }
        Assert.Equal(20_000, count);
        Assert.True(new FileInfo(path).Length > 1_000_000);
        Assert.Equal(1024, reader.BufferCapacity);
    }

    [Fact]
    public void ElementsLargerThanTheBufferGrowItAndSplitTokensSurvive()
    {
        string json = "[ {\"a\": \"" + new string('x', 5000) + "\", \"b\": [1, 2, {\"c\": null}]}, 12345, \"tail\" , [] ]";
        using var reader = new JsonArrayReader(new MemoryStream(Encoding.UTF8.GetBytes(json)), "mem.json", initialBufferBytes: 16);
        var elements = reader.ReadAll().Select(e => Encoding.UTF8.GetString(e.Utf8.Span)).ToList();
        Assert.Equal(4, elements.Count);
        Assert.StartsWith("{\"a\": \"xxx", elements[0]);
        Assert.EndsWith("{\"c\": null}]}", elements[0]);
        Assert.Equal(["12345", "\"tail\"", "[]"], elements.Skip(1).ToArray());
        Assert.True(reader.BufferCapacity >= 5000);
    }

    [Theory]
    [InlineData("[{\"image_id\": 1, \"width\": 10, \"height\": 10}, {\"image_id\": 2,, }]", "element 1")]
    [InlineData("[{\"image_id\": 1, \"width\": 10, \"height\": 10}, {\"image_id\": 2", "element 1")]
    [InlineData("{\"image_id\": 1}", "top level must be a JSON array")]
    [InlineData("", "empty")]
    public void MalformedJsonNamesTheFileAndElement(string json, string expected)
    {
        string dir = CliProcess.TempDir();
        File.WriteAllText(Path.Combine(dir, "image_data.json"), json);
        File.WriteAllText(Path.Combine(dir, "objects.json"), "[]");
        using var reader = new VisualGenomeReader(dir);
        var e = Assert.Throws<GroundSharpException>(() => reader.ReadImages().ToList());
        Assert.Contains("image_data.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void BadAnnotationValuesNameTheFileElementAndObject()
    {
        string dir = new VgTestData().Image(1, 100, 100, [Obj(1, 0, 0, 5, 5, "cup")]).Write();
        File.WriteAllText(Path.Combine(dir, "objects.json"), "[{\"image_id\": 1, \"objects\": [{\"object_id\": 1, \"x\": 0, \"y\": 0, \"w\": \"wide\", \"h\": 3, \"names\": [\"cup\"]}]}]");
        using var reader = new VisualGenomeReader(dir);
        var e = Assert.Throws<GroundSharpException>(() => reader.ReadImages().ToList());
        Assert.Contains("objects.json: element 0, objects[0]: missing number \"w\"", e.Message);
    }

    [Fact]
    public void CliWritesTripletsAndASummary()
    {
        string dir = new VgTestData().Image(1, 100, 100, [Obj(1, 0, 0, 50, 50, "dog", "brown"), Obj(2, 50, 50, 50, 50, "dog")]).Write();
        string output = Path.Combine(dir, "triplets.jsonl");
        var result = CliProcess.Run("prepare-vg", "--vg", dir, "--out", output, "--min-area-fraction", "0.05");
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("images: 1 read, 1 used", result.StdOut);
        Assert.Contains("images/s", result.StdErr);
        var samples = GroundingSampleFile.Read(output).ToList();
        Assert.Contains(samples, s => s.Text == "dog on the left" && s.Source == "spatial");

        var bad = CliProcess.Run("prepare-vg", "--vg", Path.Combine(dir, "missing"), "--out", output);
        Assert.Equal(2, bad.ExitCode);
        Assert.StartsWith("error: Visual Genome folder not found", bad.StdErr.Trim());
    }
}
