using GroundSharp.Data;

namespace GroundSharp.Training;

/// <summary>
/// The image-level tags of a run's data, in ordinal order: the classes of the visual encoder's tag objective.
/// </summary>
public sealed class TagVocabulary
{
    private readonly Dictionary<string, int> _index;

    public TagVocabulary(IEnumerable<string> tags)
    {
        Tags = tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        _index = Tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Tags { get; }
    public int Count => Tags.Count;

    /// <summary>The tag's column, or null for a tag outside the vocabulary.</summary>
    public int? IndexOf(string tag) => _index.TryGetValue(tag, out int k) ? k : null;

    public static TagVocabulary From(TrainingData data) => new(data.Samples.SelectMany(s => s.Sample.Tags ?? Array.Empty<string>()));

    /// <summary>Row-major (B, K) multi-hot targets; a sample without tags is all zero.</summary>
    public float[] MultiHot(IReadOnlyList<AugmentedSample> samples)
    {
        var hot = new float[samples.Count * Count];
        for (int i = 0; i < samples.Count; i++)
            foreach (var tag in samples[i].Origin?.Tags ?? Array.Empty<string>())
                if (_index.TryGetValue(tag, out int k)) hot[i * Count + k] = 1;
        return hot;
    }
}

/// <summary>
/// Keeps texts that are true of an image out of its negatives. A text "fits" an image when each of its content
/// words occurs in some text of that image in the training data (its caption, its region phrases): "the star" fits
/// every image whose caption names a star, so that image is no negative for it. Function and position words
/// ("the", "on", "left", "leftmost", "object", …) are not content: "the leftmost object" fits every image. ALBEF
/// has no such rule (its web captions are rarely true of another image); short region phrases are, often.
/// Only data a real dataset has is used (the texts said about each image), no annotation.
/// </summary>
public sealed class NegativeFilter
{
    private static readonly HashSet<string> NonContent = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "of", "on", "in", "at", "to", "and", "with", "is", "next", "above", "below", "under", "over",
        "left", "right", "top", "bottom", "middle", "leftmost", "rightmost", "topmost", "bottommost", "object", "objects", "shape",
    };

    private readonly Dictionary<string, HashSet<string>> _wordsByImage;

    public NegativeFilter(IEnumerable<GroundingSample> samples)
    {
        _wordsByImage = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var s in samples)
        {
            if (!_wordsByImage.TryGetValue(s.ImagePath, out var words)) _wordsByImage[s.ImagePath] = words = new HashSet<string>(StringComparer.Ordinal);
            words.UnionWith(Words(s.Text));
        }
    }

    public static NegativeFilter From(TrainingData data) => new(data.Samples.Select(s => s.Sample));

    /// <summary>The lower-cased words of a text (ALBEF's caption preprocessing), content words only.</summary>
    public static IEnumerable<string> ContentWords(string text) => Words(text).Where(w => !NonContent.Contains(w));

    private static IEnumerable<string> Words(string text) => Caption.PreCaption(text, int.MaxValue).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Whether <paramref name="word"/> (lower case) occurs in some text of the image at <paramref name="imagePath"/>.</summary>
    public bool Said(string word, string imagePath) => _wordsByImage.TryGetValue(imagePath, out var words) && words.Contains(word);

    /// <summary>Whether <paramref name="text"/> is true of the image at <paramref name="imagePath"/> by the rule above.</summary>
    public bool Fits(string text, string imagePath) =>
        _wordsByImage.TryGetValue(imagePath, out var words) && ContentWords(text).All(words.Contains);

    /// <summary>[i, j] = the text of sample j fits the image of sample i (false on the diagonal).</summary>
    public bool[,] Matrix(IReadOnlyList<AugmentedSample> samples)
    {
        int b = samples.Count;
        var fits = new bool[b, b];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
                fits[i, j] = i != j && samples[i].Origin is { } image && samples[j].Origin is { } text && Fits(text.Text, image.ImagePath);
        return fits;
    }
}
