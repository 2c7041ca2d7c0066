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
    // Per tag: the tags of its length one word away from it, and all tags of its length (the negatives' pools).
    private readonly int[][] _oneWordAway, _sameLength;

    public TagMatching(TagVocabulary tags, int textsPerImage)
    {
        CheckTextsPerImage(textsPerImage, "tag_itm_texts");
        _tags = tags;
        TextsPerImage = textsPerImage;
        var words = tags.Tags.Select(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var all = Enumerable.Range(0, tags.Count).ToArray();
        _sameLength = words.Select(w => all.Where(k => words[k].Length == w.Length).ToArray()).ToArray();
        _oneWordAway = words.Select((w, i) => _sameLength[i].Where(k => w.Where((word, j) => word != words[k][j]).Count() == 1).ToArray()).ToArray();
    }

    /// <summary>The rule for <see cref="TextsPerImage"/>: an even number, at least 2 (one own tag, one it lacks).</summary>
    public static void CheckTextsPerImage(int textsPerImage, string name)
    {
        if (textsPerImage < 2 || textsPerImage % 2 != 0) throw new GroundSharpException($"{name} ({textsPerImage}) must be an even number >= 2");
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
        for (int item = 0; item < itemTags.Count; item++)
        {
            if (itemTags[item] is not { Count: > 0 } own) continue;
            var present = new HashSet<int>();
            foreach (var tag in own)
                if (_tags.IndexOf(tag) is int k) present.Add(k);
            var positives = present.ToArray();
            rng.Shuffle(positives);
            var taken = new HashSet<int>(present); // neither a positive nor a negative already drawn
            foreach (int positive in positives.Take(TextsPerImage / 2))
            {
                var pool = Free(_oneWordAway[positive], taken);
                if (pool.Length == 0) pool = Free(_sameLength[positive], taken);
                if (pool.Length == 0) pool = Free(Enumerable.Range(0, _tags.Count), taken);
                if (pool.Length == 0) break;
                int negative = pool[rng.Next(pool.Length)];
                taken.Add(negative);
                pairs.Add((item, TextOf(_tags.Tags[positive]), true));
                pairs.Add((item, TextOf(_tags.Tags[negative]), false));
            }
        }
        return pairs;
    }

    private static int[] Free(IEnumerable<int> candidates, HashSet<int> taken) => candidates.Where(k => !taken.Contains(k)).ToArray();
}
