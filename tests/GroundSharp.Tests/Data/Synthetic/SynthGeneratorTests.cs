using GroundSharp.Data.Synthetic;
using Xunit;

namespace GroundSharp.Tests.Data.Synthetic;

public class SynthGeneratorTests
{
    private static readonly SynthBenchmarkOptions Options = new() { Seed = 11 };

    private static IEnumerable<SynthScene> Scenes(string split, int count) =>
        Enumerable.Range(0, count).Select(i => SynthBenchmark.GenerateScene(Options, split, i));

    [Fact]
    public void EveryPhraseResolvesToExactlyItsObjectAndItsBoxIsTheDrawnExtent()
    {
        int phrases = 0;
        var categories = new HashSet<PhraseCategory>();
        foreach (var s in Scenes(SynthSplits.Boxes, 40))
        {
            var scene = s.Scene;
            Assert.InRange(scene.Objects.Count, 2, 6);
            var drawn = DrawnExtents(scene);
            for (int i = 0; i < scene.Objects.Count; i++)
            {
                var box = scene.Objects[i].Box;
                Assert.True(box.X1 >= 0 && box.Y1 >= 0 && box.X2 <= scene.Width && box.Y2 <= scene.Height, $"{s.ImageId}: box {box} outside the image");
                Assert.Equal(box, drawn[i]);
            }
            Assert.All(scene.VisibleFractions(), f => Assert.True(f >= SceneGeneratorOptions.MinVisibleFraction, $"{s.ImageId}: only {f:P0} visible"));
            foreach (var p in s.Phrases)
            {
                Assert.Equal(new[] { p.ObjectIndex }, PhraseResolver.Resolve(scene, p.Expression));
                Assert.Equal(p.ObjectIndex, PhraseResolver.Referent(scene, p.Expression));
                Assert.Equal(scene.Objects[p.ObjectIndex].Box, p.Box);
                Assert.Equal(scene.Objects[p.ObjectIndex].Shape, p.Shape);
                categories.Add(p.Category);
                phrases++;
            }
        }
        Assert.True(phrases > 150, $"only {phrases} phrases in 40 scenes");
        Assert.Equal(3, categories.Count);
    }

    // The box each object's pixels actually occupy: where the rendering with the object differs from the one without.
    private static GroundSharp.Eval.Box[] DrawnExtents(Scene scene) => scene.Objects.Select(o =>
    {
        var with = SceneRenderer.Render(scene with { Objects = new[] { o } }).Pixels;
        var without = SceneRenderer.Render(scene with { Objects = Array.Empty<SceneObject>() }).Pixels;
        int x1 = int.MaxValue, y1 = int.MaxValue, x2 = -1, y2 = -1;
        for (int i = 0; i < with.Length; i++)
        {
            if (with[i] == without[i]) continue;
            int x = i / 3 % scene.Width, y = i / 3 / scene.Width;
            x1 = Math.Min(x1, x); y1 = Math.Min(y1, y); x2 = Math.Max(x2, x + 1); y2 = Math.Max(y2, y + 1);
        }
        return new GroundSharp.Eval.Box(x1, y1, x2, y2);
    }).ToArray();

    [Fact]
    public void SpatialAndRelationalPhrasesAreTrueOfTheirBoxes()
    {
        foreach (var s in Scenes(SynthSplits.Val, 40))
            foreach (var p in s.Phrases)
            {
                var objects = s.Scene.Objects;
                var target = objects[p.ObjectIndex];
                if (p.Expression is SpatialExpression spatial)
                {
                    var rivals = objects.Where(o => o != target && spatial.Target.Matches(o)).ToList();
                    Assert.NotEmpty(rivals);
                    double margin = AmbiguityRules.ExtremeMargin * s.Scene.Width;
                    foreach (var r in rivals)
                    {
                        double lead = spatial.Extreme switch
                        {
                            SpatialExtreme.Left => r.CentreX - target.CentreX,
                            SpatialExtreme.Right => target.CentreX - r.CentreX,
                            SpatialExtreme.Top => r.CentreY - target.CentreY,
                            _ => target.CentreY - r.CentreY,
                        };
                        Assert.True(lead >= margin, $"{s.ImageId}: \"{p.Text}\" leads by only {lead}");
                    }
                }
                if (p.Expression is RelationalExpression rel)
                {
                    var anchor = Assert.Single(objects, o => rel.Anchor.Matches(o));
                    var (t, a) = (target.Box, anchor.Box);
                    switch (rel.Relation)
                    {
                        case SpatialRelation.Above: Assert.True(t.Y2 <= a.Y1 && t.X1 < a.X2 && a.X1 < t.X2, p.Text); break;
                        case SpatialRelation.Below: Assert.True(a.Y2 <= t.Y1 && t.X1 < a.X2 && a.X1 < t.X2, p.Text); break;
                        case SpatialRelation.LeftOf: Assert.True(t.X2 <= a.X1 && t.Y1 < a.Y2 && a.Y1 < t.Y2, p.Text); break;
                        case SpatialRelation.RightOf: Assert.True(a.X2 <= t.X1 && t.Y1 < a.Y2 && a.Y1 < t.Y2, p.Text); break;
                        default:
                            double gap = Math.Max(Math.Max(t.X1, a.X1) - Math.Min(t.X2, a.X2), Math.Max(t.Y1, a.Y1) - Math.Min(t.Y2, a.Y2));
                            Assert.True(gap <= AmbiguityRules.NearGap * 256, p.Text);
                            break;
                    }
                }
            }
    }

    [Fact]
    public void HeldOutPairsNeverAppearOutsideTestCompositionalAndEveryTestCompositionalPhraseTargetsOne()
    {
        foreach (var split in new[] { SynthSplits.Pretrain, SynthSplits.Boxes, SynthSplits.Val, SynthSplits.Test })
            foreach (var s in Scenes(split, 60))
            {
                Assert.DoesNotContain(s.Scene.Objects, CompositionalHoldOut.IsHeldOut);
                foreach (var (colour, shape) in CompositionalHoldOut.Pairs)
                    Assert.DoesNotContain($" {colour.Name} {Words.Of(shape)}", " " + s.Caption);
            }
        int attribute = 0;
        foreach (var s in Scenes(SynthSplits.TestCompositional, 30))
        {
            Assert.Contains(s.Scene.Objects, CompositionalHoldOut.IsHeldOut);
            Assert.NotEmpty(s.Phrases);
            foreach (var p in s.Phrases)
            {
                var o = s.Scene.Objects[p.ObjectIndex];
                Assert.True(CompositionalHoldOut.IsHeldOut(o), $"\"{p.Text}\" refers to a seen pair");
                if (p.Expression is AttributeExpression a)
                {
                    Assert.Equal(o.Colour, a.Target.Colour); // the phrase names the unseen colour-shape pair
                    attribute++;
                }
            }
        }
        Assert.True(attribute >= 30);
    }

    [Fact]
    public void SameSeedGivesTheSameScenesAndAnotherSeedDifferentOnes()
    {
        var a = SynthBenchmark.GenerateScene(Options, SynthSplits.Boxes, 5);
        var b = SynthBenchmark.GenerateScene(Options, SynthSplits.Boxes, 5);
        var c = SynthBenchmark.GenerateScene(Options with { Seed = 12 }, SynthSplits.Boxes, 5);
        Assert.Equal(a.Caption, b.Caption);
        Assert.Equal(a.Phrases.Select(p => (p.Text, p.Box)), b.Phrases.Select(p => (p.Text, p.Box)));
        Assert.Equal(SceneRenderer.EncodePng(SceneRenderer.Render(a.Scene)), SceneRenderer.EncodePng(SceneRenderer.Render(b.Scene)));
        Assert.NotEqual(SceneRenderer.Render(a.Scene).Pixels, SceneRenderer.Render(c.Scene).Pixels);
    }

    [Fact]
    public void VariedSizesStayWithinTheRangeAndCaptionsNameEveryObject()
    {
        var options = Options with { Scenes = Options.Scenes with { VarySize = true } };
        var sizes = new HashSet<(int, int)>();
        for (int i = 0; i < 20; i++)
        {
            var s = SynthBenchmark.GenerateScene(options, SynthSplits.Pretrain, i);
            Assert.InRange(s.Scene.Width, 192, 320);
            Assert.InRange(s.Scene.Height, 192, 320);
            sizes.Add((s.Scene.Width, s.Scene.Height));
            Assert.Empty(s.Phrases);
            foreach (var o in s.Scene.Objects) Assert.Contains($"{o.Colour.Name} ", s.Caption);
            Assert.EndsWith($"on a {Words.Of(s.Scene.Background)} background", s.Caption);
        }
        Assert.True(sizes.Count > 5);
    }

    [Fact]
    public void ImpossibleKnobsAreRejectedWithAClearMessage()
    {
        var e = Assert.Throws<GroundSharpException>(() => (Options with { Val = -1 }).Validate());
        Assert.Equal("--val must be between 0 and 999999 images (got -1)", e.Message);
        Assert.Throws<GroundSharpException>(() => (Options with { Scenes = new SceneGeneratorOptions { MinObjects = 5, MaxObjects = 3 } }).Validate());
        Assert.Throws<GroundSharpException>(() => (Options with { Scenes = new SceneGeneratorOptions { Width = 10 } }).Validate());
    }
}
