namespace GroundSharp.Data.Synthetic;

/// <summary>What a phrase uses to single out its object; also the first part of its category label.</summary>
public enum PhraseCategory { Attribute, Spatial, Relational }

public enum SpatialExtreme { Left, Right, Top, Bottom }

public enum SpatialRelation { Above, Below, LeftOf, RightOf, NextTo }

/// <summary>
/// A noun phrase's content: any of size, colour, texture, and the shape (null: "object"). Matches an object when
/// every given attribute equals the object's.
/// </summary>
public sealed record ObjectDescription(ShapeKind? Shape = null, SynthColour? Colour = null, SizeClass? Size = null, TextureKind? Texture = null)
{
    public static ObjectDescription AnyObject { get; } = new();

    public static ObjectDescription Full(SceneObject o) => new(o.Shape, o.Colour, o.Size, o.Texture);

    public bool Matches(SceneObject o) =>
        (Shape is null || Shape == o.Shape) && (Colour is null || Colour == o.Colour) &&
        (Size is null || Size == o.Size) && (Texture is null || Texture == o.Texture);

    /// <summary>"small red striped circle", "square", "object".</summary>
    public string Words
    {
        get
        {
            var parts = new List<string>(4);
            if (Size is { } size) parts.Add(Synthetic.Words.Of(size));
            if (Colour is { } colour) parts.Add(colour.Name);
            if (Texture is { } texture) parts.Add(Synthetic.Words.Of(texture));
            parts.Add(Shape is { } shape ? Synthetic.Words.Of(shape) : "object");
            return string.Join(' ', parts);
        }
    }
}

/// <summary>A phrase meant to pick out one object of a scene; <see cref="PhraseResolver"/> checks that it does.</summary>
public abstract record ReferringExpression(ObjectDescription Target)
{
    public abstract PhraseCategory Category { get; }
    public abstract string Text { get; }
    public override string ToString() => Text;
}

/// <summary>"the small red circle", "the striped square".</summary>
public sealed record AttributeExpression(ObjectDescription Target) : ReferringExpression(Target)
{
    public override PhraseCategory Category => PhraseCategory.Attribute;
    public override string Text => "the " + Target.Words;
}

/// <summary>"the leftmost object", "the square on the left", "the red circle at the top".</summary>
public sealed record SpatialExpression(ObjectDescription Target, SpatialExtreme Extreme) : ReferringExpression(Target)
{
    public override PhraseCategory Category => PhraseCategory.Spatial;

    public override string Text => Target == ObjectDescription.AnyObject
        ? Extreme switch
        {
            SpatialExtreme.Left => "the leftmost object",
            SpatialExtreme.Right => "the rightmost object",
            SpatialExtreme.Top => "the topmost object",
            _ => "the bottommost object",
        }
        : $"the {Target.Words} " + Extreme switch
        {
            SpatialExtreme.Left => "on the left",
            SpatialExtreme.Right => "on the right",
            SpatialExtreme.Top => "at the top",
            _ => "at the bottom",
        };
}

/// <summary>"the star above the blue circle", "the circle next to the yellow square".</summary>
public sealed record RelationalExpression(ObjectDescription Target, SpatialRelation Relation, ObjectDescription Anchor) : ReferringExpression(Target)
{
    public override PhraseCategory Category => PhraseCategory.Relational;

    public override string Text => $"the {Target.Words} {RelationWords(Relation)} the {Anchor.Words}";

    public static string RelationWords(SpatialRelation r) => r switch
    {
        SpatialRelation.Above => "above",
        SpatialRelation.Below => "below",
        SpatialRelation.LeftOf => "to the left of",
        SpatialRelation.RightOf => "to the right of",
        _ => "next to",
    };
}
