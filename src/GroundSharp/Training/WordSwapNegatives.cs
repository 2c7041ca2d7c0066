using GroundSharp.Data;
using GroundSharp.Data.Synthetic;

namespace GroundSharp.Training;

/// <summary>
/// ITM negatives made from an image's own text by swapping one word for another of its word class ("the red star" →
/// "the blue star"), kept only when the new text is false of the image by <see cref="NegativeFilter"/>'s rule (the
/// new word is said nowhere about that image). In-batch negatives of short region phrases can be told apart by
/// whether the image holds such an object at all; a swapped negative holds the same words but one, so the match
/// must check the attribute on the object the phrase names. Word-level negatives as in NegCLIP (Yuksekgonul et
/// al., 2023); ALBEF has none. Only the texts said about each image are used, no annotation.
/// </summary>
public sealed class WordSwapNegatives
{
    private readonly NegativeFilter _said;
    private readonly Dictionary<string, string[]> _classOf;

    /// <param name="classes">Groups of interchangeable words (colours, shapes, …); a word in no group is never swapped.</param>
    /// <param name="said">The words said about each image of the training data.</param>
    public WordSwapNegatives(IEnumerable<IReadOnlyList<string>> classes, NegativeFilter said)
    {
        _said = said;
        _classOf = ClassMap(classes, "swap_word_classes");
    }

    /// <summary>Each word's class (lower case); a class of fewer than two words or a word in two classes is an error.</summary>
    public static Dictionary<string, string[]> ClassMap(IEnumerable<IReadOnlyList<string>> classes, string source)
    {
        var classOf = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var group in classes)
        {
            var words = group.Select(w => w.Trim().ToLowerInvariant()).Where(w => w.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
            if (words.Length < 2) throw new GroundSharpException($"{source}: the class [{string.Join(", ", group)}] needs at least two words");
            foreach (var w in words)
                if (!classOf.TryAdd(w, words)) throw new GroundSharpException($"{source}: \"{w}\" is in two classes");
        }
        return classOf;
    }

    /// <summary>The synthetic benchmark's word classes: its colours, shapes, textures and sizes.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> SyntheticClasses { get; } = new IReadOnlyList<string>[]
    {
        SynthColour.All.Select(c => c.Name).ToArray(),
        Words.Shapes.Select(Words.Of).ToArray(),
        Words.Textures.Select(Words.Of).ToArray(),
        new[] { Words.Of(SizeClass.Small), Words.Of(SizeClass.Large) },
    };

    /// <summary>
    /// <paramref name="text"/> (ALBEF-preprocessed) with one swappable word replaced by a word of its class that is false
    /// of the image at <paramref name="imagePath"/>; null when no word of the text can be swapped that way.
    /// </summary>
    public string? Swap(string text, string imagePath, Random rng)
    {
        var words = Caption.PreCaption(text, int.MaxValue).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var positions = Enumerable.Range(0, words.Length).Where(i => _classOf.ContainsKey(words[i])).ToArray();
        rng.Shuffle(positions);
        foreach (int i in positions)
        {
            var candidates = _classOf[words[i]].Where(w => w != words[i] && !_said.Said(w, imagePath)).ToArray();
            if (candidates.Length == 0) continue;
            var swapped = (string[])words.Clone();
            swapped[i] = candidates[rng.Next(candidates.Length)];
            return string.Join(' ', swapped);
        }
        return null;
    }
}
