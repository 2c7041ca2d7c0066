using GroundSharp.Data.Synthetic;
using Xunit;
using static GroundSharp.Tests.Data.Synthetic.SceneBuilder;

namespace GroundSharp.Tests.Data.Synthetic;

public class PhraseRuleTests
{
    private static readonly SynthColour Red = SynthColour.Red, Blue = SynthColour.Blue, Green = SynthColour.Green;

    [Fact]
    public void AttributePhraseNeedsAUniqueMatch()
    {
        var scene = Scene(
            Obj(ShapeKind.Circle, Red, 10, 10, 30, SizeClass.Small),
            Obj(ShapeKind.Circle, Red, 100, 10, 80, SizeClass.Large),
            Obj(ShapeKind.Square, Blue, 10, 150));
        Assert.Null(PhraseResolver.Referent(scene, new AttributeExpression(new ObjectDescription(ShapeKind.Circle, Red))));
        Assert.Equal(0, PhraseResolver.Referent(scene, new AttributeExpression(new ObjectDescription(ShapeKind.Circle, Red, SizeClass.Small))));
        Assert.Equal(2, PhraseResolver.Referent(scene, new AttributeExpression(new ObjectDescription(ShapeKind.Square))));
        Assert.Equal("the small red circle", new AttributeExpression(new ObjectDescription(ShapeKind.Circle, Red, SizeClass.Small)).Text);
    }

    [Fact]
    public void ShapeOnTheLeftOnlyWhenTheShapeRepeatsAndOneIsLeftmostByTheMargin()
    {
        var onTheLeft = new SpatialExpression(new ObjectDescription(ShapeKind.Square), SpatialExtreme.Left);
        Assert.Equal("the square on the left", onTheLeft.Text);

        var clear = Scene(Obj(ShapeKind.Square, Red, 10, 100), Obj(ShapeKind.Square, Blue, 150, 100), Obj(ShapeKind.Circle, Green, 0, 10));
        Assert.Equal(0, PhraseResolver.Referent(clear, onTheLeft));

        // Centres 20 px apart: less than 10 % of the 256-px width, so "on the left" is ambiguous.
        var close = Scene(Obj(ShapeKind.Square, Red, 10, 100), Obj(ShapeKind.Square, Blue, 30, 160));
        Assert.Null(PhraseResolver.Referent(close, onTheLeft));
        Assert.Equal(2, PhraseResolver.Resolve(close, onTheLeft).Count);

        // A single square: nothing to contrast, so no spatial phrase.
        var single = Scene(Obj(ShapeKind.Square, Red, 10, 100), Obj(ShapeKind.Circle, Blue, 150, 100));
        Assert.Null(PhraseResolver.Referent(single, onTheLeft));
        Assert.Equal(0, PhraseResolver.Referent(single, new SpatialExpression(ObjectDescription.AnyObject, SpatialExtreme.Left)));
    }

    [Fact]
    public void ExtremeObjectPhrasesUseTheMarginToo()
    {
        var scene = Scene(Obj(ShapeKind.Star, Red, 100, 10), Obj(ShapeKind.Ring, Blue, 160, 25), Obj(ShapeKind.Cross, Green, 100, 200));
        Assert.Null(PhraseResolver.Referent(scene, new SpatialExpression(ObjectDescription.AnyObject, SpatialExtreme.Top)));
        Assert.Equal(2, PhraseResolver.Referent(scene, new SpatialExpression(ObjectDescription.AnyObject, SpatialExtreme.Bottom)));
        Assert.Equal("the bottommost object", new SpatialExpression(ObjectDescription.AnyObject, SpatialExtreme.Bottom).Text);
    }

    [Fact]
    public void RelationalPhraseNeedsAUniqueAnchorAndNoRivalThatCouldAlsoBeMeant()
    {
        var starAboveBlueCircle = new RelationalExpression(new ObjectDescription(ShapeKind.Star), SpatialRelation.Above, new ObjectDescription(ShapeKind.Circle, Blue));
        Assert.Equal("the star above the blue circle", starAboveBlueCircle.Text);

        // Star directly above the circle; the other star is below it: unambiguous.
        var clear = Scene(Obj(ShapeKind.Star, Red, 100, 20), Obj(ShapeKind.Circle, Blue, 105, 120), Obj(ShapeKind.Star, Green, 200, 200));
        Assert.Equal(0, PhraseResolver.Referent(clear, starAboveBlueCircle));

        // A second star higher than the circle but off to the side: it could be meant too.
        var rival = Scene(Obj(ShapeKind.Star, Red, 100, 20), Obj(ShapeKind.Circle, Blue, 105, 120), Obj(ShapeKind.Star, Green, 200, 60));
        Assert.Null(PhraseResolver.Referent(rival, starAboveBlueCircle));

        // Two blue circles: the anchor is ambiguous.
        var twoAnchors = Scene(Obj(ShapeKind.Star, Red, 100, 20), Obj(ShapeKind.Circle, Blue, 105, 120), Obj(ShapeKind.Circle, Blue, 10, 200));
        Assert.Null(PhraseResolver.Referent(twoAnchors, starAboveBlueCircle));

        // Only diagonally above (no horizontal overlap): borderline, not generated.
        var diagonal = Scene(Obj(ShapeKind.Star, Red, 10, 20), Obj(ShapeKind.Circle, Blue, 105, 120));
        Assert.Equal(RelationTruth.Borderline, PhraseResolver.Relation(diagonal, diagonal.Objects[0], SpatialRelation.Above, diagonal.Objects[1]));
        Assert.Null(PhraseResolver.Referent(diagonal, starAboveBlueCircle));
    }

    [Fact]
    public void NextToHoldsForCloseObjectsAndFailsForFarOnes()
    {
        var scene = Scene(
            Obj(ShapeKind.Circle, Red, 20, 20),              // box about 20..50
            Obj(ShapeKind.Square, SynthColour.Yellow, 58, 20), // gap about 8 px < 6 % of 256
            Obj(ShapeKind.Circle, Green, 200, 200));          // far away
        var e = new RelationalExpression(new ObjectDescription(ShapeKind.Circle), SpatialRelation.NextTo, new ObjectDescription(ShapeKind.Square, SynthColour.Yellow));
        Assert.Equal("the circle next to the yellow square", e.Text);
        Assert.Equal(RelationTruth.Fails, PhraseResolver.Relation(scene, scene.Objects[2], SpatialRelation.NextTo, scene.Objects[1]));
        Assert.Equal(0, PhraseResolver.Referent(scene, e));

        // Move the second circle to a middling distance: it might be meant, so the phrase is dropped.
        var middling = Scene(scene.Objects[0], scene.Objects[1], Obj(ShapeKind.Circle, Green, 120, 20));
        Assert.Equal(RelationTruth.Borderline, PhraseResolver.Relation(middling, middling.Objects[2], SpatialRelation.NextTo, middling.Objects[1]));
        Assert.Null(PhraseResolver.Referent(middling, e));
    }

    [Fact]
    public void GeneratorOnAHandBuiltSceneEmitsOnlyPhrasesThatResolveToTheirObject()
    {
        var scene = Scene(
            // The second square sits higher than the circle, so it clearly is not "below" it.
            Obj(ShapeKind.Square, Red, 10, 100), Obj(ShapeKind.Square, Red, 180, 5),
            Obj(ShapeKind.Circle, Blue, 15, 20), Obj(ShapeKind.Triangle, Green, 100, 200, 40, SizeClass.Large));
        var phrases = PhraseGenerator.Generate(scene, new Random(3), new PhraseOptions(MaxSpatial: 20, MaxRelational: 20));
        // The two red squares are identical but for position: no attribute phrase for them, spatial ones instead.
        Assert.DoesNotContain(phrases, p => p.Category == PhraseCategory.Attribute && p.Shape == ShapeKind.Square);
        Assert.Contains(phrases, p => p.Text == "the square on the left" && p.ObjectIndex == 0);
        Assert.Contains(phrases, p => p.Text == "the square on the right" && p.ObjectIndex == 1);
        Assert.Contains(phrases, p => p.Category == PhraseCategory.Relational && p.Text == "the square below the blue circle" && p.ObjectIndex == 0);
        foreach (var p in phrases)
        {
            Assert.Equal(p.ObjectIndex, PhraseResolver.Referent(scene, p.Expression));
            Assert.Equal(scene.Objects[p.ObjectIndex].Box, p.Box);
        }
    }
}
