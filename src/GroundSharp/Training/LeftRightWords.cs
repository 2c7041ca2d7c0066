using System.Text.RegularExpressions;

namespace GroundSharp.Training;

/// <summary>
/// Swaps the words for left and right in a phrase, so that a horizontally flipped image still matches its
/// text: "left" ↔ "right", also inside "leftmost", "left-hand", "lefthand(ed)", "leftward(s)". Word
/// boundaries are respected ("bright", "upright" stay) and the case of each word is kept ("Left" → "Right",
/// "LEFT" → "RIGHT"). Other senses of "right" ("the right answer") are swapped too: region phrases
/// almost always use it spatially.
/// </summary>
public static partial class LeftRightWords
{
    [GeneratedRegex(@"\b(left|right)(?=(?:most|wards?|hand(?:ed)?)?\b)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SideWord();

    public static string Swap(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SideWord().Replace(text, m => MatchCase(m.Value, m.Value.Equals("left", StringComparison.OrdinalIgnoreCase) ? "right" : "left"));
    }

    /// <summary>True when the phrase holds a left/right word that <see cref="Swap"/> would change.</summary>
    public static bool HasSideWord(string text) => SideWord().IsMatch(text);

    private static string MatchCase(string original, string replacement)
    {
        if (original.All(c => !char.IsLetter(c) || char.IsUpper(c))) return replacement.ToUpperInvariant();
        if (char.IsUpper(original[0])) return char.ToUpperInvariant(replacement[0]) + replacement[1..];
        return replacement;
    }
}
