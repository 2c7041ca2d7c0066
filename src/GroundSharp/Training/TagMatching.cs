namespace GroundSharp.Training;

/// <summary>
/// Image–text matching on image-level tags: each tagged image of a batch is paired with some of its own tags as
/// short texts ("the red star", label 1) and, for each, one tag it does not have (label 0), and the ITM head learns
/// to tell them apart. Tags name everything an image holds, so these negatives are never false, unlike in-batch
/// negatives of short phrases; and one image yields many labelled pairs for one pass of the image encoder. Each
/// negative is, where the vocabulary has one, a tag of the same length differing from its positive in one word
/// ("the red star" → "the blue star"): otherwise the text alone would tell them apart (most of an image's tags are
/// single words, most absent ones pairs), and a swapped word must be checked on the object itself. A stand-in for
/// the short region descriptions of ALBEF-14M (Visual Genome), without their boxes.
/// </summary>
public sealed class TagMatching
{
    private readonly TagVocabulary _tags;
    private readonly string[][] _words;

    public TagMatching(TagVocabulary tags, int textsPerImage)
    {
        if (textsPerImage < 2 || textsPerImage % 2 != 0) throw new GroundSharpException($"tag_itm_texts ({textsPerImage}) must be an even number >= 2");
        _tags = tags;
        TextsPerImage = textsPerImage;
        _words = tags.Tags.Select(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
    }

    /// <summary>Texts per tagged image: half its own tags, half tags it lacks.</summary>
    public int TextsPerImage { get; }

    /// <summary>The text a tag is matched as.</summary>
    public static string TextOf(string tag) => "the " + tag;

    /// <summary>
    /// The pairs of one batch: (item, text, label) for every item with tags, in item order: up to
    /// <see cref="TextsPerImage"/>/2 of its tags, each followed by one tag it lacks (fewer when the image or the
    /// vocabulary has fewer). Items without tags get none.
    /// </summary>
    public IReadOnlyList<(int Item, string Text, bool Present)> Draw(IReadOnlyList<IReadOnlyList<string>?> itemTags, Random rng)
    {
        var pairs = new List<(int, string, bool)>();
        int half = TextsPerImage / 2;
        for (int item = 0; item < itemTags.Count; item++)
        {
            if (itemTags[item] is not { Count: > 0 } own) continue;
            var present = new HashSet<int>();
            foreach (var tag in own)
                if (_tags.IndexOf(tag) is int k) present.Add(k);
            var absent = Enumerable.Range(0, _tags.Count).Where(k => !present.Contains(k)).ToArray();
            if (present.Count == 0 || absent.Length == 0) continue;

            var positives = present.ToArray();
            rng.Shuffle(positives);
            var chosen = new HashSet<int>();
            foreach (int positive in positives.Take(half))
            {
                var left = absent.Where(k => !chosen.Contains(k)).ToArray();
                if (left.Length == 0) break;
                var oneWordOff = left.Where(k => DifferInOneWord(_words[k], _words[positive])).ToArray();
                var sameLength = left.Where(k => _words[k].Length == _words[positive].Length).ToArray();
                var pool = oneWordOff.Length > 0 ? oneWordOff : sameLength.Length > 0 ? sameLength : left;
                int negative = pool[rng.Next(pool.Length)];
                chosen.Add(negative);
                pairs.Add((item, TextOf(_tags.Tags[positive]), true));
                pairs.Add((item, TextOf(_tags.Tags[negative]), false));
            }
        }
        return pairs;
    }

    private static bool DifferInOneWord(string[] a, string[] b)
    {
        if (a.Length != b.Length) return false;
        int differ = 0;
        for (int i = 0; i < a.Length; i++)
            if (!string.Equals(a[i], b[i], StringComparison.Ordinal)) differ++;
        return differ == 1;
    }
}
