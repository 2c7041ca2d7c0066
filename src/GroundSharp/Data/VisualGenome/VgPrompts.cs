using System.Text;

namespace GroundSharp.Data.VisualGenome;

/// <summary>The text rules of the triplet builder (docs/formats.md lists them).</summary>
public static class VgPrompts
{
    // Words spelled with a leading vowel letter but said with a consonant sound, and the reverse.
    private static readonly string[] ConsonantSoundPrefixes = ["uni", "use", "usu", "uti", "ute", "ure", "eu", "ewe", "one", "once", "ubiq"];
    private static readonly string[] VowelSoundPrefixes = ["hour", "honest", "honor", "honour", "heir"];

    /// <summary>Lower-case, trimmed, runs of whitespace collapsed to one space ("" for null).</summary>
    public static string Normalize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text.Trim())
        {
            if (char.IsWhiteSpace(c)) { space = true; continue; }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>
    /// "an" before a vowel letter, "a" otherwise, with two short exception lists: words starting with
    /// uni/use/usu/uti/ute/ure/eu/ewe/one/once/ubiq take "a" ("a uniform"), words starting with hour/honest/
    /// honor/honour/heir take "an" ("an hour").
    /// </summary>
    public static string IndefiniteArticle(string phrase)
    {
        string word = Normalize(phrase);
        if (word.Length == 0) return "a";
        if (VowelSoundPrefixes.Any(p => word.StartsWith(p, StringComparison.Ordinal))) return "an";
        if (ConsonantSoundPrefixes.Any(p => word.StartsWith(p, StringComparison.Ordinal))) return "a";
        return "aeiou".Contains(word[0]) ? "an" : "a";
    }

    /// <summary>"a brown dog", "an old car".</summary>
    public static string Attribute(string attribute, string name) => $"{IndefiniteArticle(attribute)} {attribute} {name}";

    /// <summary>"the dog" when the image has one box of the category, "a dog" / "an apple" when it has several.</summary>
    public static string Object(string name, bool onlyOneInImage) => onlyOneInImage ? $"the {name}" : $"{IndefiniteArticle(name)} {name}";

    public static string Spatial(SpatialPosition position, string name) => position switch
    {
        SpatialPosition.Left => $"{name} on the left",
        SpatialPosition.Right => $"{name} on the right",
        SpatialPosition.Top => $"top {name}",
        SpatialPosition.Bottom => $"bottom {name}",
        SpatialPosition.TopLeft => $"top left {name}",
        SpatialPosition.TopRight => $"top right {name}",
        SpatialPosition.BottomLeft => $"bottom left {name}",
        SpatialPosition.BottomRight => $"bottom right {name}",
        _ => throw new ArgumentOutOfRangeException(nameof(position)),
    };
}

/// <summary>The spatial prompts, in the order the builder emits them for a category.</summary>
public enum SpatialPosition { Left, Right, Top, Bottom, TopLeft, TopRight, BottomLeft, BottomRight }
