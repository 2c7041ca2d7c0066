using GroundSharp.Data.Benchmarks;
using GroundSharp.Eval;
using GroundSharp.Tests.Cli;
using Xunit;

namespace GroundSharp.Tests.Data.Benchmarks;

public class Flickr30kEntitiesTests
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "benchmarks", "flickr30k");

    [Fact]
    public void ParsesPhrasesTypesAndTheCaption()
    {
        var s = Flickr30kEntities.ParseSentence("[/EN#10/people/other Several men] in [/EN#11/clothing hard hats] are working .", "x");
        Assert.Equal("Several men in hard hats are working .", s.Text);
        Assert.Equal(2, s.Phrases.Count);
        Assert.Equal(new[] { "people", "other" }, s.Phrases[0].Types);
        Assert.Equal("10", s.Phrases[0].EntityId);
        Assert.Equal("hard hats", s.Phrases[1].Text);
        Assert.Equal(3, s.Phrases[1].FirstWordIndex);
    }

    [Fact]
    public void ValItemsMergeEntityBoxesAndSkipEntitiesWithoutBoxes()
    {
        var skipped = new FlickrSkipCounts();
        var items = Flickr30kEntities.ReadItems(Root, "val", skipped: skipped).ToList();
        Assert.Equal(["Two young guys", "shaggy hair", "their hands", "Two young , White males", "green shirts"], items.Select(i => i.Text).ToArray());
        var guys = items[0];
        // Two <object> elements for entity 1, coordinates minus 1 as in the dataset toolkit.
        Assert.Equal([new Box(10, 20, 199, 329), new Box(200, 30, 379, 332)], guys.GtBoxes);
        Assert.Equal(["people"], guys.Categories);
        Assert.Equal("val", guys.Split);
        Assert.Equal((500, 333), (guys.ImageWidth, guys.ImageHeight));
        Assert.Equal(Path.Combine(Root, "flickr30k-images", "1000092795.jpg"), guys.ImagePath);
        Assert.Equal("Two young guys with shaggy hair look at their hands while hanging out in the yard .", guys.Context);
        Assert.Equal("1000092795/0/1", guys.QueryId);
        // One <object> with two names gives its box to both entities.
        Assert.Equal(items[1].GtBoxes, items[2].GtBoxes);
        Assert.Equal(["bodyparts"], items[2].Categories);
        Assert.Equal(1, skipped.NotVisual);
        Assert.Equal(2, skipped.Scene);
        Assert.Equal(1, skipped.NoBox);
        Assert.Equal(0, skipped.NotAnnotated);
    }

    [Fact]
    public void TestSplitHasMultiTypePhrasesAndSceneEntitiesWithBoxes()
    {
        var skipped = new FlickrSkipCounts();
        var items = Flickr30kEntities.ReadItems(Root, "test", skipped: skipped).ToList();
        Assert.Equal(["Several men", "a giant pulley system", "A dog", "the grass"], items.Select(i => i.Text).ToArray());
        Assert.Equal(["people", "other"], items[0].Categories);
        Assert.Equal(["vehicles"], items[1].Categories);
        Assert.Equal(["scene"], items[3].Categories);
        Assert.Equal([new Box(0, 100, 299, 199)], items[3].GtBoxes);
        Assert.Equal(1, skipped.NotAnnotated);
        Assert.All(items, i => Assert.Equal("test", i.Split));
        Assert.All(items, i => Assert.Contains(i.Categories[0], Flickr30kEntities.EntityTypes));
        var forEval = items[2].ToFlickrItem();
        Assert.Equal(new FlickrGroundingItem("test", 200, 300, items[2].GtBoxes), forEval);
    }

    [Fact]
    public void MalformedFilesNameTheFile()
    {
        string dir = CliProcess.TempDir();
        string xml = Path.Combine(dir, "1.xml");
        File.WriteAllText(xml, "<annotation><size><width>10</width><height>10</height></size><object><name>1</name>\n<bndbox><xmin>1</xmin></object></annotation>");
        var e = Assert.Throws<GroundSharpException>(() => Flickr30kEntities.ReadAnnotation(xml));
        Assert.Contains("1.xml: not valid XML (line 2)", e.Message);

        File.WriteAllText(xml, "<annotation><size><width>10</width><height>10</height></size><object><name>1</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>x</xmax><ymax>5</ymax></bndbox></object></annotation>");
        e = Assert.Throws<GroundSharpException>(() => Flickr30kEntities.ReadAnnotation(xml));
        Assert.Contains("1.xml (line 1): <bndbox> needs an integer <xmax>", e.Message);

        string txt = Path.Combine(dir, "1.txt");
        File.WriteAllText(txt, "[/EN#1/people A man] walks .\n[/EN#2/other a dog runs .\n");
        e = Assert.Throws<GroundSharpException>(() => Flickr30kEntities.ReadSentences(txt));
        Assert.Contains("1.txt:2: malformed phrase markup", e.Message);

        e = Assert.Throws<GroundSharpException>(() => Flickr30kEntities.ReadItems(Root, "nosuchsplit").ToList());
        Assert.Contains("nosuchsplit.txt", e.Message);
    }
}

public class RefGroundingTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "benchmarks", "refcoco");

    [Fact]
    public void ReadsQueriesWithBoxesSizesCategoriesAndProposals()
    {
        var lookup = RefLookup.Read(Path.Combine(Dir, "refs.json"));
        var proposals = RefGrounding.ReadProposals(Path.Combine(Dir, "dets.json"));
        var items = RefGrounding.ReadItems(Path.Combine(Dir, "refcoco+_test.json"), lookup, "/images", proposals: proposals).ToList();
        Assert.Equal(["testA", "testB", "val"], items.Select(i => i.Split).ToArray());
        var woman = items[0];
        Assert.Equal("woman in red", woman.Text);
        Assert.Equal(Path.Combine("/images", "coco/train2014/COCO_train2014_000000131074.jpg"), woman.ImagePath);
        Assert.Equal([Box.FromXywh(10.5, 20.25, 100, 200)], woman.GtBoxes);
        Assert.Equal(["person"], woman.Categories);
        Assert.Equal(["dog"], items[1].Categories);
        Assert.Equal("7", woman.QueryId);
        Assert.Equal(3, woman.Proposals!.Count);
        Assert.Equal(Box.FromXywh(290, 40, 130, 100), woman.Proposals[1]);

        var refItem = items[2].ToRefItem();
        Assert.Equal("val", refItem.Split);
        Assert.Equal((640, 427), (refItem.ImageHeight, refItem.ImageWidth));
        Assert.Equal(Box.FromXywh(0, 300, 427, 340), refItem.RefBox);
        Assert.Single(refItem.Proposals);
    }

    [Fact]
    public void SplitFilterAndSplitFallbackToTheRef()
    {
        var lookup = RefLookup.Read(Path.Combine(Dir, "refs.json"));
        string grounding = Path.Combine(Dir, "refcoco+_test.json");
        Assert.Equal(["brown dog"], RefGrounding.ReadItems(grounding, lookup, "", "testB").Select(i => i.Text).ToArray());
        // The third entry has no "type": its split comes from the refs file.
        Assert.Equal(["man at the bottom"], RefGrounding.ReadItems(grounding, lookup, "", "val").Select(i => i.Text).ToArray());
        Assert.Null(RefGrounding.ReadItems(grounding, lookup, "", "val").Single().Proposals);
        Assert.Empty(RefGrounding.ReadItems(grounding, lookup, "", "test"));
    }

    [Fact]
    public void MalformedInputsNameTheFileAndRecord()
    {
        string dir = CliProcess.TempDir();
        var lookup = RefLookup.Read(Path.Combine(Dir, "refs.json"));

        string grounding = Path.Combine(dir, "bad_grounding.json");
        File.WriteAllText(grounding, "[{\"image\": \"a.jpg\", \"text\": \"x\", \"ref_id\": 7}, {\"image\": \"a.jpg\", \"text\": \"y\", \"ref_id\": 99}]");
        var e = Assert.Throws<GroundSharpException>(() => RefGrounding.ReadItems(grounding, lookup, "").ToList());
        Assert.Contains("bad_grounding.json: element 1: ref_id 99 is not in the refs file", e.Message);

        File.WriteAllText(grounding, "[{\"image\": \"a.jpg\", \"text\": \"x\", \"ref_id\": 7} {\"image\": 1}]");
        e = Assert.Throws<GroundSharpException>(() => RefGrounding.ReadItems(grounding, lookup, "").ToList());
        Assert.Contains("bad_grounding.json: malformed JSON at element 1", e.Message);

        string refs = Path.Combine(dir, "refs.json");
        File.WriteAllText(refs, "{\"images\": [{\"id\": 1, \"width\": 5, \"height\": 5}], \"annotations\": [], \"refs\": [{\"ref_id\": 1, \"image_id\": 1, \"bbox\": [0, 0, -3, 2]}]}");
        e = Assert.Throws<GroundSharpException>(() => RefLookup.Read(refs));
        Assert.Contains("refs.json: refs[0]: \"bbox\"", e.Message);
        File.WriteAllText(refs, "{\"images\": [}");
        e = Assert.Throws<GroundSharpException>(() => RefLookup.Read(refs));
        Assert.Contains("refs.json: not valid JSON", e.Message);

        string dets = Path.Combine(dir, "dets.json");
        File.WriteAllText(dets, "{\"1\": [[0, 0, 5]]}");
        e = Assert.Throws<GroundSharpException>(() => RefGrounding.ReadProposals(dets));
        Assert.Contains("dets.json: image \"1\", box 0: a box must be [x, y, w, h]", e.Message);

        File.WriteAllText(dets, "{\"131074\": []}");
        e = Assert.Throws<GroundSharpException>(() =>
            RefGrounding.ReadItems(Path.Combine(Dir, "refcoco+_test.json"), lookup, "", proposals: RefGrounding.ReadProposals(dets)).ToList());
        Assert.Contains("no entry for image 581857", e.Message);
    }
}
