using GroundSharp.Data.Benchmarks;
using GroundSharp.Eval;
using Xunit;

namespace GroundSharp.Tests.Eval;

public class BoxAndPointingGameTests
{
    [Fact]
    public void XywhAndXyxyDescribeTheSameBox()
    {
        var fromXywh = Box.FromXywh(10, 20, 30, 40);
        Assert.Equal(Box.FromXyxy(10, 20, 40, 60), fromXywh);
        Assert.Equal((10.0, 20.0, 30.0, 40.0), fromXywh.ToXywh());
        Assert.Equal(1200, fromXywh.Area);
        Assert.Equal(fromXywh, Box.FromXywh([10.0, 20, 30, 40, 0.9])); // proposal rows carry a score
    }

    [Fact]
    public void TooFewValuesAreRejected() =>
        Assert.Throws<GroundSharpException>(() => Box.FromXyxy([1.0, 2, 3]));

    [Fact]
    public void ValidationNamesTheProblem()
    {
        var swapped = Box.FromXyxy(50, 10, 20, 30);
        var e = Assert.Throws<GroundSharpException>(() => swapped.EnsureWellFormed("GT box"));
        Assert.Contains("GT box", e.Message);
        Assert.Throws<GroundSharpException>(() => Box.FromXyxy(0, 0, double.NaN, 5).EnsureWellFormed());

        var image = (Width: 100, Height: 80);
        Box.FromXyxy(0, 0, 100, 80).EnsureInside(image.Width, image.Height); // the whole image is inside
        e = Assert.Throws<GroundSharpException>(() => Box.FromXywh(90, 10, 20, 10).EnsureInside(image.Width, image.Height));
        Assert.Contains("100x80", e.Message);
        Box.FromXywh(90, 10, 20, 10).EnsureOverlapsImage(image.Width, image.Height); // partly outside is allowed there
        Assert.Throws<GroundSharpException>(() => Box.FromXywh(100, 10, 20, 10).EnsureOverlapsImage(image.Width, image.Height));
        Assert.Throws<GroundSharpException>(() => Box.FromXywh(-30, 10, 30, 10).EnsureOverlapsImage(image.Width, image.Height));
    }

    [Fact]
    public void ClipToCutsAtTheImageBorder() =>
        Assert.Equal(Box.FromXyxy(0, 5, 100, 80), Box.FromXyxy(-4, 5, 120, 95).ClipTo(100, 80));

    [Theory]
    [InlineData(10, 30, false)] // on the left edge
    [InlineData(50, 30, false)] // on the right edge
    [InlineData(30, 20, false)] // on the top edge
    [InlineData(30, 60, false)] // on the bottom edge
    [InlineData(10, 20, false)] // on a corner
    [InlineData(11, 21, true)]  // one pixel inside the corner
    [InlineData(49, 59, true)]
    [InlineData(30, 40, true)]
    [InlineData(51, 40, false)]
    public void HitNeedsStrictInequalities(int x, int y, bool expected) =>
        Assert.Equal(expected, PointingGame.IsHit((x, y), [Box.FromXyxy(10, 20, 50, 60)]));

    [Fact]
    public void HitOnAnyBoxCounts()
    {
        Box[] boxes = [Box.FromXyxy(0, 0, 5, 5), Box.FromXyxy(100, 100, 200, 200)];
        Assert.True(PointingGame.IsHit((150, 150), boxes));
        Assert.False(PointingGame.IsHit((5, 3), boxes));
        Assert.False(PointingGame.IsHit((1, 1), []));
    }

    [Fact]
    public void FractionalXywhEdgesAreStrictToo()
    {
        var box = Box.FromXywh(10.5, 20, 9.5, 10); // x2 = 20 exactly
        Assert.True(PointingGame.IsInside((11, 21), box));
        Assert.False(PointingGame.IsInside((20, 21), box));
    }

    [Fact]
    public void RandomAnnotatedObject_IsTheShareOfTheImagesBoxCentresInsideTheTarget()
    {
        GroundingEvalItem Item(string image, params Box[] boxes) => new(image, "a phrase", "test", Array.Empty<string>(), boxes, 100, 100);
        var left = Box.FromXyxy(0, 0, 40, 40);
        var right = Box.FromXyxy(60, 60, 100, 100);
        var around = Box.FromXyxy(0, 0, 100, 100); // contains both centres
        var items = new[]
        {
            Item("a.png", left), Item("a.png", right),   // 1 of 2 centres each
            Item("b.png", around), Item("b.png", left),  // "around": 2 of 2; "left": 1 of 2
            Item("c.png", right),                        // the only box: 1 of 1
        };
        Assert.Equal((0.5 + 0.5 + 1 + 0.5 + 1) / 5, PointingGame.RandomAnnotatedObject(items), 12);
        Assert.True(double.IsNaN(PointingGame.RandomAnnotatedObject(Array.Empty<GroundingEvalItem>())));
    }

    private static readonly Box Star = Box.FromXyxy(0, 0, 10, 10), Circle = Box.FromXyxy(20, 0, 30, 10), Square = Box.FromXyxy(40, 0, 50, 10);

    [Fact]
    public void PairAccuracy_CountsPairsNamingDifferentObjects_WhereBothHit()
    {
        // An oracle: every phrase hit; 3 objects, "the star" said twice: the two star phrases are no pair.
        var oracle = new (IReadOnlyList<Box>, bool)[] { ([Star], true), ([Star], true), ([Circle], true), ([Square], true) };
        Assert.Equal(new HitCount(5, 5), PointingGame.PairsOfImage(oracle));

        // Phrase-blind: every phrase points at the star, so only the star phrases hit; no pair has both hits.
        var blind = new (IReadOnlyList<Box>, bool)[] { ([Star], true), ([Circle], false), ([Square], false) };
        Assert.Equal(new HitCount(0, 3), PointingGame.PairsOfImage(blind));

        // Two of three right: one pair of three.
        var partial = new (IReadOnlyList<Box>, bool)[] { ([Star], true), ([Circle], true), ([Square], false) };
        Assert.Equal(new HitCount(1, 3), PointingGame.PairsOfImage(partial));

        // One phrase, or phrases all of one object: no pairs.
        Assert.Equal(new HitCount(0, 0), PointingGame.PairsOfImage(new (IReadOnlyList<Box>, bool)[] { ([Star], true) }));
        Assert.Equal(new HitCount(0, 0), PointingGame.PairsOfImage(new (IReadOnlyList<Box>, bool)[] { ([Star], true), ([Star], false) }));
    }

    [Fact]
    public void PairAccuracy_MergesAcrossShards()
    {
        EvalReport Shard(string name, int both, int pairs) => new()
        {
            Dataset = "d", Split = "s", Model = "m", Shard = name, Items = 1, Images = 1, Seconds = 0,
            Pointing = new AccuracyTable().ToReport(), Pairs = new HitCount(both, pairs),
        };
        var merged = EvalReport.Merge(new[] { Shard("0/2", 1, 3), Shard("1/2", 2, 5) });
        Assert.Equal(new HitCount(3, 8), merged.Pairs);
        Assert.Equal(3.0 / 8, merged.Pairs!.Value.Accuracy);
        Assert.Contains("Pair accuracy", merged.ToMarkdown());
    }
}
