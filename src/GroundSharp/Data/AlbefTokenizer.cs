using System.Text;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Data;

/// <summary>
/// BERT uncased WordPiece tokenizer as ALBEF uses it (<c>BertTokenizer.from_pretrained('bert-base-uncased')</c>):
/// phrases are cleaned with <see cref="Caption.PreCaption"/>, wrapped in [CLS] ... [SEP] and padded with [PAD]
/// to the longest phrase of the batch (HF <c>padding='longest'</c>).
/// </summary>
public sealed class AlbefTokenizer
{
    private const string DefaultVocabResource = "GroundSharp.bert-base-uncased-vocab.txt";
    private static readonly string[] RequiredSpecials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];
    private static readonly Lazy<AlbefTokenizer> DefaultTokenizer = new(LoadDefault);

    private readonly BertTokenizer _bert;

    /// <summary>Where the vocabulary came from (a path or the embedded resource name), for messages.</summary>
    public string VocabSource { get; }
    /// <summary>Number of vocabulary lines; token id = line index, so every id is below this.</summary>
    public int VocabSize { get; }
    public int PadId { get; }
    public int UnknownId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    /// <summary>Id of [MASK], or -1 when the vocabulary has none (it is needed only for masked-LM training).</summary>
    public int MaskId { get; }

    private AlbefTokenizer(byte[] vocabBytes, string source)
    {
        VocabSource = source;
        var ids = ParseVocab(vocabBytes, source, out int lineCount);
        VocabSize = lineCount;
        PadId = ids["[PAD]"];
        UnknownId = ids["[UNK]"];
        ClsId = ids["[CLS]"];
        SepId = ids["[SEP]"];
        MaskId = ids.TryGetValue("[MASK]", out int mask) ? mask : -1;

        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            // HF's uncased BERT strips accents whenever it lower-cases (strip_accents=None).
            RemoveNonSpacingMarks = true,
        };
        if (MaskId < 0) options.MaskingToken = "[UNK]";
        using var stream = new MemoryStream(vocabBytes, writable: false);
        try
        {
            _bert = BertTokenizer.Create(stream, options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new GroundSharpException($"vocabulary {source} could not be loaded: {e.Message}", e);
        }
    }

    /// <summary>The standard bert-base-uncased vocabulary (30522 entries), embedded in the library.</summary>
    public static AlbefTokenizer Default => DefaultTokenizer.Value;

    /// <summary>Loads a BERT vocab.txt (one token a line, id = line index).</summary>
    public static AlbefTokenizer FromVocab(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new GroundSharpException($"vocabulary file not found: {path}");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GroundSharpException($"vocabulary file {path} could not be read: {e.Message}", e);
        }
        return new AlbefTokenizer(bytes, path);
    }

    private static AlbefTokenizer LoadDefault()
    {
        using var stream = typeof(AlbefTokenizer).Assembly.GetManifestResourceStream(DefaultVocabResource)
            ?? throw new InvalidOperationException($"embedded resource {DefaultVocabResource} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return new AlbefTokenizer(copy.ToArray(), "embedded bert-base-uncased vocabulary");
    }

    /// <summary>Reads the vocabulary like HF's <c>load_vocab</c> and checks that it is usable.</summary>
    private static Dictionary<string, int> ParseVocab(byte[] bytes, string source, out int lineCount)
    {
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException)
        {
            throw new GroundSharpException($"vocabulary file {source} is not valid UTF-8 text");
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        if (text.Trim().Length == 0) throw new GroundSharpException($"vocabulary file {source} is empty");

        var lines = text.Split('\n');
        // A final newline ends the last line; it does not start another entry.
        lineCount = text.EndsWith('\n') ? lines.Length - 1 : lines.Length;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < lineCount; i++)
        {
            string token = lines[i].TrimEnd('\r').Trim();
            if (token.Length == 0)
                throw new GroundSharpException($"vocabulary file {source} has an empty entry at line {i + 1} (one token a line expected)");
            if (token.Any(char.IsWhiteSpace))
                throw new GroundSharpException($"vocabulary file {source} line {i + 1} holds more than one token: \"{token}\"");
            ids[token] = i;
        }
        var missing = RequiredSpecials.Where(s => !ids.ContainsKey(s)).ToList();
        if (missing.Count > 0)
            throw new GroundSharpException(
                $"vocabulary file {source} lacks the special token(s) {string.Join(", ", missing)}; it is not a BERT vocab.txt");
        return ids;
    }

    /// <summary>
    /// Token ids of one phrase, [CLS] ... [SEP], without padding or truncation. The phrase is cleaned with
    /// <see cref="Caption.PreCaption"/> first; a phrase with nothing left throws <see cref="GroundSharpException"/>.
    /// </summary>
    public int[] EncodePhrase(string phrase, int maxWords = Caption.DefaultMaxWords)
    {
        ArgumentNullException.ThrowIfNull(phrase);
        return EncodeCleaned(Caption.PreCaption(phrase, maxWords), phrase);
    }

    private int[] EncodeCleaned(string cleaned, string phrase)
    {
        if (cleaned.Length == 0)
            throw new GroundSharpException($"phrase \"{phrase}\" is empty after cleaning (pre_caption); give a phrase with words");
        var pieces = _bert.EncodeToIds(cleaned, addSpecialTokens: false);
        if (pieces.Count == 0)
            throw new GroundSharpException($"phrase \"{phrase}\" yields no tokens after cleaning (\"{cleaned}\")");
        var ids = new int[pieces.Count + 2];
        ids[0] = ClsId;
        for (int i = 0; i < pieces.Count; i++) ids[i + 1] = pieces[i];
        ids[^1] = SepId;
        return ids;
    }

    /// <summary>
    /// Encodes a batch: each phrase cleaned with <see cref="Caption.PreCaption"/>, tokenised to [CLS] ... [SEP],
    /// truncated to <paramref name="maxPositions"/> tokens (keeping [SEP] last, with a warning), then padded with
    /// [PAD] to the longest phrase. Tensors are int64 (B, L) on <paramref name="device"/> (CPU when null).
    /// </summary>
    public TokenBatch Encode(IReadOnlyList<string> phrases, int maxPositions, int maxWords = Caption.DefaultMaxWords, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(phrases);
        if (phrases.Count == 0) throw new GroundSharpException("no phrases to encode");
        if (maxPositions < 2)
            throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "must leave room for [CLS] and [SEP]");

        var sequences = new int[phrases.Count][];
        var cleaned = new string[phrases.Count];
        var warnings = new List<string>[phrases.Count];
        var allUnknown = new bool[phrases.Count];
        for (int b = 0; b < phrases.Count; b++)
        {
            warnings[b] = new List<string>();
            cleaned[b] = Caption.PreCaption(phrases[b] ?? throw new ArgumentNullException(nameof(phrases), $"phrase {b} is null"), int.MaxValue);
            int words = cleaned[b].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            if (words > maxWords)
            {
                warnings[b].Add($"phrase \"{phrases[b]}\" has {words} words; only the first {maxWords} are used (max_words, as ALBEF's pre_caption)");
                cleaned[b] = Caption.PreCaption(phrases[b], maxWords);
            }
            int[] ids = EncodeCleaned(cleaned[b], phrases[b]);
            allUnknown[b] = ids[1..^1].All(id => id == UnknownId);
            if (allUnknown[b])
                warnings[b].Add($"every token of phrase \"{phrases[b]}\" is [UNK] for the vocabulary {VocabSource}: the model sees no word of it, so its map, point and score cannot mean anything");
            if (ids.Length > maxPositions)
            {
                warnings[b].Add($"phrase \"{phrases[b]}\" has {ids.Length} tokens; truncated to the model's {maxPositions} positions");
                var kept = ids[..maxPositions];
                kept[^1] = SepId;
                ids = kept;
            }
            sequences[b] = ids;
        }

        int length = sequences.Max(s => s.Length);
        var inputIds = new long[phrases.Count * length];
        var mask = new long[phrases.Count * length];
        Array.Fill(inputIds, PadId);
        for (int b = 0; b < sequences.Length; b++)
        {
            for (int t = 0; t < sequences[b].Length; t++)
            {
                inputIds[b * length + t] = sequences[b][t];
                mask[b * length + t] = 1;
            }
        }

        var shape = new long[] { phrases.Count, length };
        var idsTensor = tensor(inputIds, shape, dtype: ScalarType.Int64, device: device);
        var maskTensor = tensor(mask, shape, dtype: ScalarType.Int64, device: device);
        return new TokenBatch(idsTensor, maskTensor, sequences.Select(s => s.Length).ToArray(), cleaned, warnings,
            allUnknown);
    }
}

/// <summary>A padded batch of token ids. Owns its two tensors: dispose it (or detach them) when done.</summary>
public sealed class TokenBatch : IDisposable
{
    internal TokenBatch(Tensor inputIds, Tensor attentionMask, int[] tokenCounts, string[] cleanedPhrases, List<string>[] phraseWarnings, bool[] allUnknown)
    {
        AllUnknown = allUnknown;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenCounts = tokenCounts;
        CleanedPhrases = cleanedPhrases;
        PhraseWarnings = phraseWarnings;
        Warnings = phraseWarnings.SelectMany(w => w).ToList();
    }

    /// <summary>int64 (B, L): [CLS] tokens [SEP] then [PAD] up to L = the longest phrase.</summary>
    public Tensor InputIds { get; }
    /// <summary>int64 (B, L): 1 for real tokens (incl. [CLS]/[SEP]), 0 for padding.</summary>
    public Tensor AttentionMask { get; }
    /// <summary>Tokens per phrase including [CLS] and [SEP], after truncation.</summary>
    public IReadOnlyList<int> TokenCounts { get; }
    /// <summary>Each phrase after <see cref="Caption.PreCaption"/>.</summary>
    public IReadOnlyList<string> CleanedPhrases { get; }
    /// <summary>Human-readable notes, e.g. a phrase truncated to the model's positions.</summary>
    public IReadOnlyList<string> Warnings { get; }
    /// <summary>The warnings of each phrase, by batch index.</summary>
    public IReadOnlyList<IReadOnlyList<string>> PhraseWarnings { get; }
    /// <summary>Whether every word piece of the phrase is [UNK] (the model sees none of its words), by batch index.</summary>
    public IReadOnlyList<bool> AllUnknown { get; }
    public int BatchSize => TokenCounts.Count;
    public int Length => (int)InputIds.shape[1];

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}
