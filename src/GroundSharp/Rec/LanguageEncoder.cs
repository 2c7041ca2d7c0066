using GroundSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

public sealed record LanguageConfig
{
    /// <summary>Vocabulary size; <see cref="RecModel"/> sets it from its vocabulary.</summary>
    public int VocabSize { get; init; } = 2;
    /// <summary>Word embedding size (300 for GloVe).</summary>
    public int WordDim { get; init; } = 300;
    /// <summary>Width of the GRU output, the self-attention layers and the sentence vector (the paper: 512).</summary>
    public int Hidden { get; init; } = 512;
    public int GruLayers { get; init; } = 1;
    /// <summary>The paper's encoder is a bidirectional GRU: each direction gets Hidden / 2 units.</summary>
    public bool Bidirectional { get; init; } = true;
    public int SelfAttentionLayers { get; init; } = 1;
    public int Heads { get; init; } = 8;
    /// <summary>Longest expression in tokens (the paper: 15 for RefCOCO/+/g, 20 for ReferItGame).</summary>
    public int MaxLength { get; init; } = 15;

    public LanguageConfig Validate(string source = "language config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Require(VocabSize >= 2, "vocab_size must be at least 2 (<pad>, <unk>)");
        Require(WordDim > 0 && Hidden > 0 && GruLayers >= 1 && SelfAttentionLayers >= 0 && MaxLength >= 1, "sizes must be positive");
        Require(!Bidirectional || Hidden % 2 == 0, $"hidden ({Hidden}) must be even for a bidirectional GRU");
        Require(Heads >= 1 && Hidden % Heads == 0, $"hidden ({Hidden}) must be divisible by heads ({Heads})");
        return this;
    }
}

/// <summary>Post-norm transformer layer over the words: x = LN(x + MHA(x)), then x = LN(x + FFN(x)).</summary>
public sealed class TextSelfAttentionLayer : nn.Module
{
    public readonly MultiHeadAttention attention;
    public readonly LayerNorm norm1;
    public readonly GeluMlp ffn;
    public readonly LayerNorm norm2;

    public TextSelfAttentionLayer(int dim, int heads) : base(nameof(TextSelfAttentionLayer))
    {
        attention = new MultiHeadAttention(dim, heads);
        norm1 = nn.LayerNorm(dim);
        ffn = new GeluMlp(dim, 4 * dim);
        norm2 = nn.LayerNorm(dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        x = norm1.forward(x.Plus(attention.Forward(x, x, mask)));
        x = norm2.forward(x.Plus(ffn.Forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Attention-based flattening: a two-layer MLP scores each word, the scores are soft-maxed over the non-padding
/// words, and the sentence vector is a linear map of the score-weighted sum of the word features.
/// </summary>
public sealed class AttentionFlatten : nn.Module
{
    public readonly Linear score_hidden;
    public readonly Linear score;
    public readonly Linear merge;

    public AttentionFlatten(int dim) : base(nameof(AttentionFlatten))
    {
        score_hidden = nn.Linear(dim, dim);
        score = nn.Linear(dim, 1);
        merge = nn.Linear(dim, dim);
        RegisterComponents();
    }

    /// <summary>(B, L, D) words, (B, L) bool mask → (B, D) sentence vectors and the (B, L) weights.</summary>
    public (Tensor Sentence, Tensor Weights) Forward(Tensor words, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var logits = score.forward(F.relu(score_hidden.forward(words))).squeeze(-1);
        var weights = logits.MaskedFillWith(mask.logical_not(), -1e9).softmax(-1);
        var pooled = (weights.unsqueeze(-1) * words).sum(1);
        return (merge.forward(pooled).MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope());
    }
}

/// <summary>What the language encoder returns: per-word features, the padding mask, and the sentence vector.</summary>
public sealed class LanguageOutput(Tensor words, Tensor mask, Tensor sentence) : IDisposable
{
    /// <summary>(B, L, Hidden).</summary>
    public Tensor Words { get; } = words;
    /// <summary>(B, L) bool, true for real words.</summary>
    public Tensor Mask { get; } = mask;
    /// <summary>(B, Hidden): the paper's language feature Y.</summary>
    public Tensor Sentence { get; } = sentence;

    public void Dispose()
    {
        Words.Dispose();
        Mask.Dispose();
        Sentence.Dispose();
    }
}

/// <summary>
/// The language encoder of RefCLIP and the paper: word embeddings → (bidirectional) GRU → self-attention
/// layers → attention flattening into one sentence vector. The GRU runs over the padded sequence (as RefCLIP's
/// encoder does); padding is excluded from the self-attention keys and from the flattening.
/// </summary>
public sealed class LanguageEncoder : nn.Module
{
    public readonly Embedding embedding;
    public readonly GRU gru;
    public readonly ModuleList<TextSelfAttentionLayer> layers;
    public readonly AttentionFlatten flatten;

    public LanguageConfig Config { get; }

    public LanguageEncoder(LanguageConfig config) : base(nameof(LanguageEncoder))
    {
        Config = config.Validate();
        embedding = nn.Embedding(config.VocabSize, config.WordDim, padding_idx: RecVocabulary.PadId);
        int gruHidden = config.Bidirectional ? config.Hidden / 2 : config.Hidden;
        gru = nn.GRU(config.WordDim, gruHidden, numLayers: config.GruLayers, batchFirst: true, bidirectional: config.Bidirectional);
        layers = new ModuleList<TextSelfAttentionLayer>();
        for (int i = 0; i < config.SelfAttentionLayers; i++) layers.Add(new TextSelfAttentionLayer(config.Hidden, config.Heads));
        flatten = new AttentionFlatten(config.Hidden);
        RegisterComponents();
    }

    /// <summary>(B, L) int64 token ids (0 = padding) → word features, mask and sentence vector.</summary>
    public LanguageOutput Forward(Tensor tokenIds)
    {
        using var scope = NewDisposeScope();
        var mask = tokenIds.IsNotEqualTo(RecVocabulary.PadId);
        var (x, hidden) = gru.forward(embedding.forward(tokenIds));
        hidden.Dispose();
        foreach (var layer in layers) x = layer.Forward(x, mask);
        var (sentence, _) = flatten.Forward(x, mask);
        return new LanguageOutput(x.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope(), sentence.MoveToOuterDisposeScope());
    }
}
