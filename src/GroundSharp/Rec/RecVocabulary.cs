using System.Text;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// A word-level vocabulary for referring expressions: text is lower-cased and split on every non-letter
/// character. Id 0 is <c>&lt;pad&gt;</c>, id 1 is <c>&lt;unk&gt;</c>, then words by descending count (ties in
/// ordinal order), so a vocabulary built from the same texts is always the same.
/// </summary>
public sealed class RecVocabulary
{
    public const string Pad = "<pad>";
    public const string Unknown = "<unk>";
    public const long PadId = 0;
    public const long UnknownId = 1;

    private readonly Dictionary<string, long> _ids;

    public IReadOnlyList<string> Words { get; }

    public RecVocabulary(IReadOnlyList<string> words)
    {
        if (words.Count < 2 || words[0] != Pad || words[1] != Unknown)
            throw new GroundSharpException($"a REC vocabulary must start with {Pad} and {Unknown}");
        _ids = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < words.Count; i++)
            if (!_ids.TryAdd(words[i], i)) throw new GroundSharpException($"the REC vocabulary lists '{words[i]}' twice");
        Words = words.ToArray();
    }

    public int Count => Words.Count;

    /// <summary>Lower-cased runs of letters, e.g. "Left-most red cube!" → left, most, red, cube.</summary>
    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetter(ch)) current.Append(char.ToLowerInvariant(ch));
            else if (current.Length > 0) { tokens.Add(current.ToString()); current.Clear(); }
        }
        if (current.Length > 0) tokens.Add(current.ToString());
        return tokens;
    }

    /// <summary>Words seen at least <paramref name="minCount"/> times in the training texts.</summary>
    public static RecVocabulary Build(IEnumerable<string> texts, int minCount = 1)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var token in Tokenize(text))
                counts[token] = counts.GetValueOrDefault(token) + 1;
        var words = counts.Where(kv => kv.Value >= minCount && kv.Key != Pad && kv.Key != Unknown)
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key);
        return new RecVocabulary([Pad, Unknown, .. words]);
    }

    public long IdOf(string word) => _ids.GetValueOrDefault(word, UnknownId);

    /// <summary>
    /// Ids of the first <paramref name="maxLength"/> tokens, padded with <see cref="PadId"/>. A text without any
    /// word becomes a single <c>&lt;unk&gt;</c>, so every sentence has at least one position to attend to.
    /// </summary>
    public long[] Encode(string text, int maxLength)
    {
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "must be at least 1");
        var ids = new long[maxLength];
        var tokens = Tokenize(text);
        if (tokens.Count == 0) ids[0] = UnknownId;
        for (int i = 0; i < Math.Min(tokens.Count, maxLength); i++) ids[i] = IdOf(tokens[i]);
        return ids;
    }

    /// <summary>(B, maxLength) int64 token ids.</summary>
    public Tensor EncodeBatch(IReadOnlyList<string> texts, int maxLength)
    {
        var ids = texts.SelectMany(t => Encode(t, maxLength)).ToArray();
        return tensor(ids, [texts.Count, maxLength]);
    }
}
