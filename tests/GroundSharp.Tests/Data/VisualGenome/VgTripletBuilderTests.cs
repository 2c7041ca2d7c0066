using GroundSharp.Data;
using GroundSharp.Data.VisualGenome;
using GroundSharp.Eval;
using Xunit;
using static GroundSharp.Tests.Data.VisualGenome.VgTestData;

namespace GroundSharp.Tests.Data.VisualGenome;

public class VgTripletBuilderTests
{
    private static readonly VgTripletOptions NoAreaFilter = new() { MinAreaFraction = 0 };

    private static List<GroundingSample> Run(VgTestData data, VgTripletOptions? options = null) => Run(data, options, out _);

    private static List<GroundingSample> Run(VgTestData data, VgTripletOptions? options, out VgTripletStats stats)
    {
        string dir = data.Write();
        string output = Path.Combine(dir, "triplets.jsonl");
        stats = VgTripletFile.Write(dir, output, options ?? NoAreaFilter);
        return GroundingSampleFile.Read(output).ToList();
    }

    private static string[] Texts(IEnumerable<GroundingSample> samples, string source) =>
        samples.Where(s => s.Source == source).Select(s => s.Text).ToArray();

    [Fact]
    public void AttributeAndObjectPrompts()
    {
        var samples = Run(new VgTestData().Image(1, 100, 100,
        [
            Obj(10, 0, 0, 40, 40, "Dog", "Brown", "small"),
            Obj(11, 50, 50, 40, 40, " Orange  Cat "),
            Obj(12, 50, 0, 40, 40, "apple", "old"),
            Obj(13, 0, 50, 40, 40, "apple", "unripe"),
        ]));
        Assert.Equal(["a brown dog", "an old apple", "an unripe apple"], Texts(samples, "attribute"));
        // "the" for the only box of its category, "a/an" when the image has several.
        Assert.Equal(["the dog", "the orange cat", "an apple", "an apple"], Texts(samples, "object").Take(4).ToArray());
        var brownDog = samples.Single(s => s.Text == "a brown dog");
        Assert.Equal(new Box(0, 0, 40, 40), brownDog.Box);
        Assert.Equal("1", brownDog.ImageId);
        Assert.EndsWith(Path.Combine("VG_100K", "1.jpg"), brownDog.ImagePath);
    }

    [Theory]
    [InlineData("dog", "a")]
    [InlineData("apple", "an")]
    [InlineData("Elephant", "an")]
    [InlineData("uniform", "a")]
    [InlineData("european car", "a")]
    [InlineData("one-way sign", "a")]
    [InlineData("hour hand", "an")]
    [InlineData("umbrella", "an")]
    public void IndefiniteArticle(string word, string article) => Assert.Equal(article, VgPrompts.IndefiniteArticle(word));

    [Fact]
    public void NormalizeLowersTrimsAndCollapsesWhitespace()
    {
        Assert.Equal("a man in a red  hat".Replace("  ", " "), VgPrompts.Normalize("  A man\tin a\n RED   hat "));
        Assert.Equal("", VgPrompts.Normalize("   "));
        Assert.Equal("", VgPrompts.Normalize(null));
    }

    [Fact]
    public void SpatialPromptsForLeftRightTopBottom()
    {
        // Three dogs in a 300x300 image; only the last one has its centre in a corner third both ways.
        var samples = Run(new VgTestData().Image(1, 300, 300,
        [
            Obj(1, 10, 120, 60, 60, "dog"),   // centre (40, 150): leftmost
            Obj(2, 120, 10, 60, 60, "dog"),   // centre (150, 40): topmost
            Obj(3, 230, 200, 60, 60, "dog"),  // centre (260, 230): rightmost, bottommost, in the bottom-right third
        ]));
        var spatial = samples.Where(s => s.Source == "spatial").ToDictionary(s => s.Text, s => s.Box);
        Assert.Equal(new Box(10, 120, 70, 180), spatial["dog on the left"]);
        Assert.Equal(new Box(230, 200, 290, 260), spatial["dog on the right"]);
        Assert.Equal(new Box(120, 10, 180, 70), spatial["top dog"]);
        Assert.Equal(new Box(230, 200, 290, 260), spatial["bottom dog"]);
        Assert.Equal(new Box(230, 200, 290, 260), spatial["bottom right dog"]);
        // Top left: the first two dogs are equally close (40 + 150 = 150 + 40): a tie, no prompt. Bottom left:
        // the first dog is closest but its centre is in the middle row. Top right: the second dog is closest
        // but its centre is in the middle column.
        Assert.DoesNotContain("top left dog", spatial.Keys);
        Assert.DoesNotContain("bottom left dog", spatial.Keys);
        Assert.DoesNotContain("top right dog", spatial.Keys);
        Assert.Equal(5, spatial.Count);
    }

    [Fact]
    public void CornerPromptsGoToTheExtremeBoxInEachCorner()
    {
        var boxes = new[]
        {
            Box.FromXywh(0, 0, 20, 20),      // centre (10, 10): top left
            Box.FromXywh(20, 20, 20, 20),    // centre (30, 30): also in the top-left third, but not the extreme one
            Box.FromXywh(180, 0, 20, 20),    // centre (190, 10): top right
            Box.FromXywh(0, 180, 20, 20),    // centre (10, 190): bottom left
            Box.FromXywh(180, 180, 20, 20),  // centre (190, 190): bottom right
        };
        var positions = VgTripletBuilder.SpatialPositions(boxes, 200, 200);
        Assert.Contains((0, SpatialPosition.TopLeft), positions);
        Assert.Contains((2, SpatialPosition.TopRight), positions);
        Assert.Contains((3, SpatialPosition.BottomLeft), positions);
        Assert.Contains((4, SpatialPosition.BottomRight), positions);
        Assert.DoesNotContain(positions, p => p.Index == 1);
        // Left/right/top/bottom all tie between two boxes here, so none of them is given.
        Assert.DoesNotContain(positions, p => p.Position is SpatialPosition.Left or SpatialPosition.Right or SpatialPosition.Top or SpatialPosition.Bottom);
    }

    [Fact]
    public void TiesAreSkipped()
    {
        // Two boxes side by side at the same height: left and right are clear, top and bottom tie.
        var positions = VgTripletBuilder.SpatialPositions([Box.FromXywh(0, 40, 20, 20), Box.FromXywh(60, 40, 20, 20)], 100, 100);
        Assert.Equal([(0, SpatialPosition.Left), (1, SpatialPosition.Right)], positions);
    }

    [Fact]
    public void SingleBoxCategoriesAndDuplicateBoxesGetNoSpatialPrompt()
    {
        var samples = Run(new VgTestData().Image(1, 300, 300,
        [
            Obj(1, 0, 0, 60, 60, "cat"),
            Obj(2, 0, 0, 60, 60, "cat"),      // the same box annotated twice: still one cat
            Obj(3, 200, 200, 60, 60, "tree"),
        ]));
        Assert.Empty(Texts(samples, "spatial"));
        Assert.Equal(["the cat", "the tree"], Texts(samples, "object"));
        Assert.Empty(VgTripletBuilder.SpatialPositions([Box.FromXywh(0, 0, 5, 5)], 10, 10));
    }

    [Fact]
    public void RegionDescriptionsKeepTheirBoxes()
    {
        var samples = Run(new VgTestData().Image(7, 200, 100, regions:
        [
            Region(70, 7, "A brown dog  playing with a ball", 10, 20, 50, 40),
            Region(71, 7, "   ", 10, 20, 50, 40),
        ]), null, out var stats);
        var region = Assert.Single(samples);
        Assert.Equal("region", region.Source);
        Assert.Equal("a brown dog playing with a ball", region.Text);
        Assert.Equal(new Box(10, 20, 60, 60), region.Box);
        Assert.Equal(1, stats.BoxesDropped[VgTripletStats.DropEmptyPhrase]);
    }

    [Fact]
    public void AreaFilterClippingAndDegenerateBoxes()
    {
        var data = new VgTestData().Image(1, 100, 100,
        [
            Obj(1, 0, 0, 9, 10, "speck"),        // 90 px < 1% of 10,000
            Obj(2, 0, 0, 10, 10, "tile"),        // exactly 1%: kept
            Obj(3, 90, 90, 30, 30, "ball"),      // clipped to 10x10 = 1%: kept, clipped
            Obj(4, 10, 10, 0, 20, "line"),       // zero width
            Obj(5, 150, 10, 20, 20, "ghost"),    // entirely outside
            Obj(6, 10, 10, 20, 20, "  "),        // no name
        ]);
        var samples = Run(data, new VgTripletOptions { MinAreaFraction = 0.01 }, out var stats);
        Assert.Equal(["the tile", "the ball"], Texts(samples, "object"));
        Assert.Equal(new Box(90, 90, 100, 100), samples.Single(s => s.Text == "the ball").Box);
        Assert.Equal(1, stats.BoxesDropped[VgTripletStats.DropSmall]);
        Assert.Equal(1, stats.BoxesDropped[VgTripletStats.DropDegenerate]);
        Assert.Equal(1, stats.BoxesDropped[VgTripletStats.DropOutsideImage]);
        Assert.Equal(1, stats.BoxesDropped[VgTripletStats.DropNoName]);
    }

    [Fact]
    public void ExclusionListAndMaxImages()
    {
        var data = new VgTestData();
        for (int id = 1; id <= 5; id++) data.Image(id, 100, 100, [Obj(id * 10, 0, 0, 50, 50, "cup")]);
        string dir = data.Write();
        string list = Path.Combine(dir, "exclude.txt");
        File.WriteAllText(list, "# images in a test set\n2\n\n4  # another\n");
        var excluded = VgTripletFile.ReadImageIdList(list);
        Assert.Equal([2L, 4L], excluded.Order());

        string output = Path.Combine(dir, "out.jsonl");
        var stats = VgTripletFile.Write(dir, output, new VgTripletOptions { ExcludedImageIds = excluded });
        Assert.Equal(["1", "3", "5"], GroundingSampleFile.Read(output).Select(s => s.ImageId!).ToArray());
        Assert.Equal(2, stats.ImagesExcluded);
        Assert.Equal(3, stats.ImagesUsed);

        stats = VgTripletFile.Write(dir, output, new VgTripletOptions { ExcludedImageIds = excluded, MaxImages = 2 });
        Assert.Equal(["1", "3"], GroundingSampleFile.Read(output).Select(s => s.ImageId!).ToArray());
        Assert.Equal(3, stats.ImagesRead);

        File.WriteAllText(list, "12\nabc\n");
        var e = Assert.Throws<GroundSharpException>(() => VgTripletFile.ReadImageIdList(list));
        Assert.Contains("exclude.txt:2", e.Message);
    }

    [Fact]
    public void IdenticalPhraseAndBoxAreKeptOnce()
    {
        var samples = Run(new VgTestData().Image(1, 100, 100,
            [Obj(1, 0, 0, 50, 50, "dog", "brown"), Obj(2, 0, 0, 50, 50, "dog", "brown")],
            [Region(1, 1, "a brown dog", 0, 0, 50, 50)]), null, out var stats);
        Assert.Equal(["a brown dog", "the dog"], samples.Select(s => s.Text).ToArray());
        Assert.Equal(3, stats.DuplicatesDropped);
    }

    [Fact]
    public void OutputIsTheDocumentedJsonLines()
    {
        string dir = new VgTestData().Image(3, 100, 80, [Obj(1, 10, 20, 30, 40, "dog", "brown")]).Write();
        string output = Path.Combine(dir, "t.jsonl");
        VgTripletFile.Write(dir, output, NoAreaFilter);
        var lines = File.ReadAllLines(output);
        Assert.Equal("{\"image\":\"VG_100K/3.jpg\",\"text\":\"a brown dog\",\"box\":[10,20,40,60],\"source\":\"attribute\",\"image_id\":\"3\"}", lines[0]);
        Assert.Equal(2, lines.Length);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void RelativePathFromUrl()
    {
        Assert.Equal("VG_100K_2/5.jpg", VisualGenomeReader.RelativePathFromUrl("https://cs.stanford.edu/people/rak248/VG_100K_2/5.jpg", 5));
        Assert.Equal("5.jpg", VisualGenomeReader.RelativePathFromUrl(null, 5));
        Assert.Equal("5.jpg", VisualGenomeReader.RelativePathFromUrl("https://host/", 5));
    }
}
