using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GroundSharp.Data;
using GroundSharp.Data.Synthetic;
using GroundSharp.Eval;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Data.Synthetic;

public class SynthOutputTests
{
    private static Dictionary<string, string> Hashes(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(dir, f).Replace('\\', '/'),
            f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void TheSameSeedWritesByteIdenticalFilesAndAnotherSeedDifferentOnes()
    {
        string a = CliProcess.TempDir(), b = CliProcess.TempDir(), c = CliProcess.TempDir();
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(5), a);
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(5), b);
        SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(6), c);
        var (ha, hb, hc) = (Hashes(a), Hashes(b), Hashes(c));
        Assert.True(ha.Count > 50, $"only {ha.Count} files");
        Assert.Equal(ha.OrderBy(kv => kv.Key), hb.OrderBy(kv => kv.Key));
        Assert.DoesNotContain(ha.Keys, k => k.EndsWith(".tmp"));
        Assert.NotEqual(ha["images/boxes/2000000.png"], hc["images/boxes/2000000.png"]);
        Assert.NotEqual(ha["boxes.jsonl"], hc["boxes.jsonl"]);
    }

    [Fact]
    public void FlickrLayoutParsesAsXmlWithTheBoxesOfTheJsonLines()
    {
        var dir = CliProcess.TempDir();
        var counts = SynthBenchmark.Write(SynthBenchmarkOptions.Tiny(9), dir);
        var flickr = Path.Combine(dir, "flickr");
        var tag = new Regex(@"^\[/EN#(?<id>\d+)/(?<types>[a-z/]+) (?<text>[^\]]+)\]$");
        foreach (var split in SynthSplits.Evaluation)
        {
            var samples = GroundingSampleFile.Read(Path.Combine(dir, split + ".jsonl")).ToList();
            Assert.Equal(counts[split].Phrases, samples.Count);
            var ids = File.ReadAllLines(Path.Combine(flickr, split + ".txt"));
            Assert.Equal(counts[split].Images, ids.Length);
            var fromFlickr = new List<(string Id, string Text, Box Box, string Types)>();
            foreach (var id in ids)
            {
                var xml = XDocument.Load(Path.Combine(flickr, "Annotations", id + ".xml"));
                var root = xml.Root!;
                Assert.Equal("annotation", root.Name.LocalName);
                Assert.Equal(id + ".png", root.Element("filename")!.Value);
                Assert.Equal("3", root.Element("size")!.Element("depth")!.Value);
                int width = int.Parse(root.Element("size")!.Element("width")!.Value), height = int.Parse(root.Element("size")!.Element("height")!.Value);
                Assert.True(File.Exists(Path.Combine(flickr, "Images", id + ".png")));
                var boxes = root.Elements("object").ToDictionary(o => o.Element("name")!.Value, o =>
                {
                    var b = o.Element("bndbox")!;
                    int V(string n) => int.Parse(b.Element(n)!.Value);
                    Assert.True(V("xmin") >= 1 && V("ymin") >= 1 && V("xmax") <= width && V("ymax") <= height);
                    return new Box(V("xmin") - 1, V("ymin") - 1, V("xmax"), V("ymax")); // 1-based inclusive → 0-based exclusive
                });
                foreach (var line in File.ReadAllLines(Path.Combine(flickr, "Sentences", id + ".txt")))
                {
                    var m = tag.Match(line);
                    Assert.True(m.Success, line);
                    fromFlickr.Add((id, m.Groups["text"].Value, boxes[m.Groups["id"].Value], m.Groups["types"].Value));
                }
            }
            Assert.Equal(samples.Select(s => (s.ImageId!, s.Text, s.Box!.Value, s.Source!)), fromFlickr);
        }
    }
}
