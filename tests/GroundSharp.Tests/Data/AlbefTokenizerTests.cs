using System.Text.Json;
using GroundSharp.Data;
using TorchSharp;
using Xunit;

namespace GroundSharp.Tests.Data;

public class AlbefTokenizerTests
{
    private static readonly string FixtureVocab = FixtureData.PathOf("cli/vocab.txt");

    /// <summary>Id of a token in the embedded vocabulary = its line index in the file.</summary>
    private static int BertId(string token)
    {
        using var stream = typeof(AlbefTokenizer).Assembly.GetManifestResourceStream("GroundSharp.bert-base-uncased-vocab.txt")!;
        using var reader = new StreamReader(stream);
        int line = 0;
        while (reader.ReadLine() is { } entry)
        {
            if (entry == token) return line;
            line++;
        }
        throw new KeyNotFoundException(token);
    }

    private static long[,] ToArray(torch.Tensor t)
    {
        var flat = t.data<long>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var result = new long[rows, cols];
        for (int i = 0; i < flat.Length; i++) result[i / cols, i % cols] = flat[i];
        return result;
    }

    [Fact]
    public void Phrase_whose_every_token_is_unknown_is_flagged_with_a_warning()
    {
        var tokenizer = AlbefTokenizer.FromVocab(FixtureVocab);
        using var batch = tokenizer.Encode(["zzzz yyyy", "qdaw zzzz"], 64);
        Assert.Equal([true, false], batch.AllUnknown);
        var warning = Assert.Single(batch.PhraseWarnings[0]);
        Assert.Contains("every token of phrase \"zzzz yyyy\" is [UNK]", warning);
        Assert.Contains(FixtureVocab, warning);
        Assert.Empty(batch.PhraseWarnings[1]);
    }

    [Fact]
    public void Fixture_phrases_encode_to_their_token_ids()
    {
        var tokenizer = AlbefTokenizer.FromVocab(FixtureVocab);
        using var doc = JsonDocument.Parse(File.ReadAllText(FixtureData.PathOf("cli/expected.json")));
        var items = doc.RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.NotEmpty(items);
        foreach (var item in items)
        {
            var expected = item.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, tokenizer.EncodePhrase(item.GetProperty("phrase").GetString()!));
        }
    }

    [Fact]
    public void Fixture_batch_matches_input_ids_and_attention_mask()
    {
        var tokenizer = AlbefTokenizer.FromVocab(FixtureVocab);
        using var doc = JsonDocument.Parse(File.ReadAllText(FixtureData.PathOf("cli/expected.json")));
        var phrases = doc.RootElement.GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("phrase").GetString()!).Take(3).ToList();
        using var batch = tokenizer.Encode(phrases, maxPositions: 64);
        Assert.Equal(ToArray(FixtureData.Load("input_ids.i64")), ToArray(batch.InputIds));
        Assert.Equal(ToArray(FixtureData.Load("attention_mask.i64")), ToArray(batch.AttentionMask));
        Assert.Equal(new[] { 7, 5, 9 }, batch.TokenCounts);
        Assert.Empty(batch.Warnings);
    }

    [Fact]
    public void Default_vocab_has_bert_base_uncased_specials()
    {
        var t = AlbefTokenizer.Default;
        Assert.Equal(30522, t.VocabSize);
        Assert.Equal((0, 100, 101, 102, 103), (t.PadId, t.UnknownId, t.ClsId, t.SepId, t.MaskId));
    }

    [Fact]
    public void Default_vocab_encodes_known_phrases()
    {
        var t = AlbefTokenizer.Default;
        Assert.Equal(new[] { 101, 1037, 2829, 3899, 102 }, t.EncodePhrase("a brown dog"));
        Assert.Equal(new[] { 101, 1037, 2829, 3899, 102 }, t.EncodePhrase("A Brown-Dog!"));
        // WordPiece takes the longest vocabulary prefix each time: una, then ##ffa (longer than ##ff), then ##ble.
        Assert.Equal(new[] { 101, BertId("una"), BertId("##ffa"), BertId("##ble"), 102 }, t.EncodePhrase("unaffable"));
        Assert.Equal(new[] { 101, BertId("skate"), BertId("##board"), BertId("##er"), 102 }, t.EncodePhrase("skateboarder"));
        // Uncased BERT strips accents.
        Assert.Equal(new[] { 101, BertId("cafe"), BertId("naive"), 102 }, t.EncodePhrase("Café naïve"));
        Assert.Equal(new[] { 101, BertId("the"), BertId("red"), BertId("umbrella"), 102 }, t.EncodePhrase("The red umbrella."));
    }

    [Fact]
    public void Batch_is_padded_to_the_longest_with_mask()
    {
        using var batch = AlbefTokenizer.Default.Encode(["a dog", "a brown dog"], maxPositions: 30);
        Assert.Equal(new long[] { 2, 5 }, batch.InputIds.shape);
        Assert.Equal(torch.ScalarType.Int64, batch.InputIds.dtype);
        Assert.Equal(torch.ScalarType.Int64, batch.AttentionMask.dtype);
        Assert.Equal(new long[,] { { 101, 1037, 3899, 102, 0 }, { 101, 1037, 2829, 3899, 102 } }, ToArray(batch.InputIds));
        Assert.Equal(new long[,] { { 1, 1, 1, 1, 0 }, { 1, 1, 1, 1, 1 } }, ToArray(batch.AttentionMask));
        Assert.Equal(new[] { 4, 5 }, batch.TokenCounts);
        Assert.Equal(new[] { "a dog", "a brown dog" }, batch.CleanedPhrases);
        Assert.Equal(5, batch.Length);
    }

    [Fact]
    public void Long_phrase_is_truncated_keeping_sep_with_a_warning()
    {
        using var batch = AlbefTokenizer.Default.Encode(["a brown dog", "a dog"], maxPositions: 4);
        Assert.Equal(new long[,] { { 101, 1037, 2829, 102 }, { 101, 1037, 3899, 102 } }, ToArray(batch.InputIds));
        Assert.Equal(new[] { 4, 4 }, batch.TokenCounts);
        var warning = Assert.Single(batch.Warnings);
        Assert.Contains("a brown dog", warning);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("?!")]
    public void Empty_phrase_is_rejected(string phrase)
    {
        var e = Assert.Throws<GroundSharpException>(() => AlbefTokenizer.Default.Encode(["a dog", phrase], 30));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Missing_vocab_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-vocab-{Guid.NewGuid():N}.txt");
        var e = Assert.Throws<GroundSharpException>(() => AlbefTokenizer.FromVocab(path));
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("\n\n", "empty")]
    [InlineData("[PAD]\n[UNK]\nhello\nworld\n", "[CLS]")]
    [InlineData("[PAD]\n[UNK]\n[CLS]\n[SEP]\n\nword\n", "line 5")]
    [InlineData("[PAD]\n[UNK]\n[CLS]\n[SEP]\ntwo words\n", "line 5")]
    public void Bad_vocab_file_gives_a_clear_error(string content, string expectedInMessage)
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, content);
        try
        {
            var e = Assert.Throws<GroundSharpException>(() => AlbefTokenizer.FromVocab(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(expectedInMessage, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Minimal_vocab_without_mask_loads()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mini-vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\ndog\n");
        try
        {
            var t = AlbefTokenizer.FromVocab(path);
            Assert.Equal(5, t.VocabSize);
            Assert.Equal(-1, t.MaskId);
            Assert.Equal(new[] { 2, 4, 1, 3 }, t.EncodePhrase("dog cat"));
        }
        finally { File.Delete(path); }
    }
}
