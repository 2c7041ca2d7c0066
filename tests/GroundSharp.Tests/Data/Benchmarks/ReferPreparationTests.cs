using System.Text;
using System.Text.Json;
using GroundSharp.Data.Benchmarks;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Data.Benchmarks;

/// <summary>
/// prepare-refcoco on tiny files in the REFER toolkit's exact formats: a Python 2 text pickle (what the toolkit's
/// refs(unc).p files are), a protocol-2 pickle as Python 3 writes it, and a COCO instances.json.
/// </summary>
public class ReferPreparationTests
{
    // Python 2's pickle.dump(refs, f) with its default protocol 0: str as quoted repr (UTF-8 bytes escaped), memo PUT/GET.
    private const string Python2Refs = @"(lp1
(dp2
S'sent_ids'
p3
(lp4
I0
aI1
asS'file_name'
p5
S'COCO_train2014_000000000009_7.jpg'
p6
sS'ann_id'
p7
I7
sS'ref_id'
p8
I0
sS'image_id'
p9
L9L
sS'split'
p10
S'train'
p11
sS'sentences'
p12
(lp13
(dp14
S'tokens'
p15
(lp16
S'left'
p17
aS'man'
p18
asS'raw'
p19
S""Left man's hat""
p20
sS'sent_id'
p21
I0
sS'sent'
p22
S'caf\xc3\xa9 left man'
p23
sa(dp24
g15
(lp25
sg19
S'guy on the left'
p26
sg21
I1
sg22
S'guy on the left'
p27
sasS'category_id'
p28
I1
sa(dp29
g3
(lp30
I2
asg5
S'COCO_train2014_000000000009_8.jpg'
p31
sg7
I8
sg8
I1
sg9
I9
sg10
S'testA'
p32
sg12
(lp33
(dp34
g15
(lp35
sg19
S'dog'
p36
sg21
I2
sg22
S'the dog'
p37
sasg28
I2
sa.";

    // Python 3: pickle.dumps([{ref 5, ann 70, image 9, testB, "dog right"}], protocol=2).
    private const string Protocol2RefsBase64 = "gAJdcQB9cQEoWAYAAAByZWZfaWRxAksFWAYAAABhbm5faWRxA0tGWAgAAABpbWFnZV9pZHEESwlYBQAAAHNwbGl0cQVYBQAAAHRlc3RCcQZYCwAAAGNhdGVnb3J5X2lkcQdLAlgJAAAAc2VudGVuY2VzcQhdcQl9cQooWAMAAAByYXdxC1gKAAAARG9nLCByaWdodHEMWAQAAABzZW50cQ1YCQAAAGRvZyByaWdodHEOWAcAAABzZW50X2lkcQ9LAFgGAAAAdG9rZW5zcRBdcREoWAMAAABkb2dxElgFAAAAcmlnaHRxE2V1YVgIAAAAc2VudF9pZHNxFF1xFUsAYVgJAAAAZmlsZV9uYW1lcRZYIgAAAENPQ09fdHJhaW4yMDE0XzAwMDAwMDAwMDAwOV83MC5qcGdxF3VhLg==";

    private const string Instances = """
        {"info": {}, "licenses": [],
         "images": [{"id": 9, "width": 640, "height": 480, "file_name": "COCO_train2014_000000000009.jpg"},
                    {"id": 11, "width": 100, "height": 100, "file_name": "COCO_train2014_000000000011.jpg"}],
         "annotations": [{"id": 7, "image_id": 9, "bbox": [10.5, 20, 100, 200], "category_id": 1, "area": 20000, "iscrowd": 0},
                         {"id": 8, "image_id": 9, "bbox": [300, 40, 50, 60], "category_id": 2},
                         {"id": 70, "image_id": 9, "bbox": [400, 100, 80, 90], "category_id": 2}],
         "categories": [{"id": 1, "name": "person", "supercategory": "person"}, {"id": 2, "name": "dog", "supercategory": "animal"}]}
        """;

    private static string Folder(string dataset, byte[] refs, string instances = Instances, string refsName = "refs(unc).p")
    {
        var dir = Path.Combine(Path.GetTempPath(), "gs-refer-" + Guid.NewGuid().ToString("N"), dataset);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, refsName), refs);
        File.WriteAllText(Path.Combine(dir, "instances.json"), instances);
        return dir;
    }

    private static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text.ReplaceLineEndings("\n"));

    [Fact]
    public void Python2TextPickle_GivesTheEvalLayout_WithBoxesCategoriesAndSplits()
    {
        var dir = Folder("refcoco+", Latin1(Python2Refs));
        var outDir = Path.Combine(dir, "prepared");
        var result = ReferPreparation.Prepare(Path.Combine(dir, "refs(unc).p"), Path.Combine(dir, "instances.json"), "refcoco+", outDir);

        Assert.Equal(2, result.Refs);
        Assert.Equal(1, result.Images);
        Assert.Equal(2, result.ExpressionsPerSplit["train"]);
        Assert.Equal(1, result.ExpressionsPerSplit["testA"]);
        Assert.Equal(["refs.json", "refcoco+_test.json", "refcoco+_train.json"], result.Files.Select(Path.GetFileName));

        // What eval reads: the lookup resolves each ref to its annotation's box and category name.
        var lookup = RefLookup.Read(Path.Combine(outDir, "refs.json"));
        var train = RefGrounding.ReadItems(Path.Combine(outDir, "refcoco+_train.json"), lookup, "/coco").ToList();
        Assert.Equal(["café left man", "guy on the left"], train.Select(i => i.Text));
        var first = train[0];
        Assert.Equal(Path.Combine("/coco", "COCO_train2014_000000000009.jpg"), first.ImagePath);
        Assert.Equal(["person"], first.Categories);
        Assert.Equal((10.5, 20.0, 110.5, 220.0), (first.GtBoxes[0].X1, first.GtBoxes[0].Y1, first.GtBoxes[0].X2, first.GtBoxes[0].Y2));
        Assert.Equal((640, 480), (first.ImageWidth, first.ImageHeight));
        var testA = RefGrounding.ReadItems(Path.Combine(outDir, "refcoco+_test.json"), lookup, "/coco", split: "testA").Single();
        Assert.Equal("the dog", testA.Text);
        Assert.Equal(["dog"], testA.Categories);
        Assert.Empty(RefGrounding.ReadItems(Path.Combine(outDir, "refcoco+_test.json"), lookup, "/coco", split: "testB"));
    }

    [Fact]
    public void Protocol2Pickle_ReadsTheSame()
    {
        var dir = Folder("refcocog", Convert.FromBase64String(Protocol2RefsBase64), refsName: "refs(umd).p");
        var outDir = Path.Combine(dir, "out");
        var result = ReferPreparation.Prepare(Path.Combine(dir, "refs(umd).p"), Path.Combine(dir, "instances.json"), "refcocog", outDir);
        Assert.Equal(1, result.ExpressionsPerSplit["testB"]);
        var lookup = RefLookup.Read(Path.Combine(outDir, "refs.json"));
        var item = RefGrounding.ReadItems(Path.Combine(outDir, "refcocog_test.json"), lookup, "/coco").Single();
        Assert.Equal(("dog right", "testB"), (item.Text, item.Split));
        Assert.Equal(400, item.GtBoxes[0].X1);
    }

    [Fact]
    public void Cli_PreparesAFolderAndNamesTheDatasetFromIt()
    {
        var dir = Folder("refcoco", Latin1(Python2Refs));
        var outDir = Path.Combine(dir, "out");
        var r = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--out", outDir);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("refcoco: 2 refs on 1 images", r.StdOut);
        Assert.True(File.Exists(Path.Combine(outDir, "refcoco_train.json")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "refcoco_test.json")));
        Assert.Equal("testA", doc.RootElement[0].GetProperty("split").GetString());
    }

    [Fact]
    public void APickleNamingAGlobal_IsRefusedAndNothingIsWritten()
    {
        // The classic exploit: os.system('echo pwned') via GLOBAL + REDUCE.
        var dir = Folder("refcoco", Latin1("cos\nsystem\n(S'echo pwned'\ntR."));
        var outDir = Path.Combine(dir, "out");
        var r = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--out", outDir);
        CliProcess.AssertCleanError(r, "refs(unc).p", "os.system", "not allowed");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void InstancesWithoutTheReferencedAnnotation_IsRefusedAndNothingIsWritten()
    {
        var noAnn8 = Instances.Replace("""{"id": 8, "image_id": 9, "bbox": [300, 40, 50, 60], "category_id": 2},""", "");
        var dir = Folder("refcoco", Latin1(Python2Refs), noAnn8);
        var outDir = Path.Combine(dir, "out");
        var r = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--out", outDir);
        CliProcess.AssertCleanError(r, "instances.json", "annotation 8", "ref_id 1");
        Assert.False(Directory.Exists(outDir));
    }

    [Theory]
    [InlineData("(lp1\n(dp2\nS'ref_id'\np3\nI0\nsa.", "has no integer \"ann_id\"")]    // a ref without its annotation id
    [InlineData("(lp1\n(dp2\nS'ref_id'\np3\nI0\ns", "truncated")]                       // cut off before STOP
    [InlineData("(dp1\n.", "expected a list of refs")]                                   // not a list
    [InlineData("(lp1\nS'unterminated\na.", "not a quoted string")]                      // malformed text opcode
    public void MalformedPickles_GiveOneErrorLine(string pickle, string message)
    {
        var dir = Folder("refcoco", Latin1(pickle));
        var r = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--out", Path.Combine(dir, "out"));
        CliProcess.AssertCleanError(r, "refs(unc).p", message);
    }

    [Fact]
    public void AnUnknownDatasetFolder_AsksForDataset()
    {
        var dir = Folder("mydata", Latin1(Python2Refs));
        var r = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--out", Path.Combine(dir, "out"));
        CliProcess.AssertCleanError(r, "--dataset", "mydata");
        var ok = CliProcess.Run("prepare-refcoco", "--refs", Path.Combine(dir, "refs(unc).p"), "--dataset", "refclef", "--out", Path.Combine(dir, "out"));
        Assert.True(ok.ExitCode == 0, ok.StdErr);
    }
}
