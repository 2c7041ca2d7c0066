using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Models;

// ALBEF's xbert.py (BERT with cross-attention in the layers from fusion_layer on). Field names are the
// PyTorch state-dict names; RegisterComponents() turns them into keys.
#pragma warning disable IDE1006, CS8618

public sealed class BertEmbeddings : nn.Module
{
    public readonly Embedding word_embeddings;
    public readonly Embedding position_embeddings;
    public readonly Embedding token_type_embeddings;
    public readonly LayerNorm LayerNorm;
    private readonly Dropout _dropout;

    public BertEmbeddings(BertConfig c) : base(nameof(BertEmbeddings))
    {
        word_embeddings = Layers.Embedding(c.VocabSize, c.HiddenSize, c.PadTokenId);
        position_embeddings = Layers.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = Layers.Embedding(c.TypeVocabSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        _dropout = nn.Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>(B,L) ids → (B,L,H): words + token type 0 + positions 0..L-1, LayerNorm, dropout.</summary>
    public Tensor Forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        long len = inputIds.shape[1];
        var positions = TensorScalars.Arange(len, ScalarType.Int64, inputIds.device).unsqueeze(0);
        var tokenTypes = zeros_like(inputIds);
        var e = word_embeddings.forward(inputIds).Plus(token_type_embeddings.forward(tokenTypes));
        e = e.Plus(position_embeddings.forward(positions));
        return _dropout.forward(LayerNorm.forward(e)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Scaled dot-product attention of BERT. As cross-attention, keys/values come from the image embeddings
/// (width encoder_width). <see cref="TapProbabilities"/> lets GradCAM see the attention probabilities (to capture them,
/// and at inference to make them a leaf) for as long as its handle lives.
/// </summary>
public sealed class BertSelfAttention : nn.Module
{
    public readonly Linear query;
    public readonly Linear key;
    public readonly Linear value;
    private readonly Dropout _dropout;
    private readonly int _heads;
    private readonly int _headDim;

    private Func<Tensor, Tensor>? _probsTap;

    /// <summary>
    /// Until the returned handle is disposed, <paramref name="tap"/> sees the attention probabilities of every forward
    /// and returns the tensor used downstream. One tap at a time: a second is refused, so two explanations never share
    /// the layer without knowing it.
    /// </summary>
    public IDisposable TapProbabilities(Func<Tensor, Tensor> tap)
    {
        ArgumentNullException.ThrowIfNull(tap);
        if (_probsTap is not null)
            throw new InvalidOperationException("this layer's attention probabilities are already tapped: one GradCAM computation at a time per model");
        _probsTap = tap;
        return new Untap(this);
    }

    private sealed class Untap(BertSelfAttention layer) : IDisposable
    {
        private BertSelfAttention? _layer = layer;

        public void Dispose()
        {
            if (_layer is not null) _layer._probsTap = null;
            _layer = null;
        }
    }

    public BertSelfAttention(BertConfig c, bool isCrossAttention) : base(nameof(BertSelfAttention))
    {
        _heads = c.NumAttentionHeads;
        _headDim = c.HiddenSize / c.NumAttentionHeads;
        int kvWidth = isCrossAttention ? c.EncoderWidth : c.HiddenSize;
        query = Layers.Linear(c.HiddenSize, c.HiddenSize);
        key = Layers.Linear(kvWidth, c.HiddenSize);
        value = Layers.Linear(kvWidth, c.HiddenSize);
        _dropout = nn.Dropout(c.AttentionProbsDropoutProb);
        RegisterComponents();
    }

    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _headDim).permute(0, 2, 1, 3);

    /// <param name="hidden">(B,T,H) queries' source.</param>
    /// <param name="additiveMask">(B,1,1,S) additive mask or null.</param>
    /// <param name="encoderHidden">(B or 1,S,Dv) keys/values' source for cross-attention; null for self-attention.</param>
    public Tensor Forward(Tensor hidden, Tensor? additiveMask, Tensor? encoderHidden = null)
    {
        using var scope = NewDisposeScope();
        var source = encoderHidden ?? hidden;
        var q = SplitHeads(query.forward(hidden));
        var k = SplitHeads(key.forward(source));
        var v = SplitHeads(value.forward(source));
        var scores = q.matmul(k.transpose(-1, -2)).DivBy(Math.Sqrt(_headDim));
        if (additiveMask is not null) scores = scores.Plus(additiveMask);
        var probs = scores.softmax(-1);
        if (_probsTap is not null) probs = _probsTap(probs);
        var context = _dropout.forward(probs).matmul(v).permute(0, 2, 1, 3);
        return context.reshape(context.shape[0], context.shape[1], -1).MoveToOuterDisposeScope();
    }
}

/// <summary>dense → dropout → LayerNorm(x + residual), used after attention and after the FFN.</summary>
public sealed class BertResidualOutput : nn.Module
{
    public readonly Linear dense;
    public readonly LayerNorm LayerNorm;
    private readonly Dropout _dropout;

    public BertResidualOutput(int inWidth, BertConfig c) : base(nameof(BertResidualOutput))
    {
        dense = Layers.Linear(inWidth, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        _dropout = nn.Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(_dropout.forward(dense.forward(x)).Plus(residual)).MoveToOuterDisposeScope();
    }
}

public sealed class BertAttention : nn.Module
{
    public readonly BertSelfAttention self;
    public readonly BertResidualOutput output;

    public BertAttention(BertConfig c, bool isCrossAttention) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(c, isCrossAttention);
        output = new BertResidualOutput(c.HiddenSize, c);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor? additiveMask, Tensor? encoderHidden = null)
    {
        using var context = self.Forward(hidden, additiveMask, encoderHidden);
        return output.Forward(context, hidden);
    }
}

public sealed class BertIntermediate : nn.Module
{
    public readonly Linear dense;

    public BertIntermediate(BertConfig c) : base(nameof(BertIntermediate))
    {
        dense = Layers.Linear(c.HiddenSize, c.IntermediateSize);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var h = dense.forward(x);
        return F.gelu(h);
    }
}

/// <summary>One BERT layer; layers from fusion_layer on also cross-attend to the image embeddings.</summary>
public sealed class BertLayer : nn.Module
{
    public readonly BertAttention attention;
    public readonly BertAttention? crossattention;
    public readonly BertIntermediate intermediate;
    public readonly BertResidualOutput output;

    public BertLayer(BertConfig c, int layerIndex) : base(nameof(BertLayer))
    {
        attention = new BertAttention(c, isCrossAttention: false);
        if (layerIndex >= c.FusionLayer) crossattention = new BertAttention(c, isCrossAttention: true);
        intermediate = new BertIntermediate(c);
        output = new BertResidualOutput(c.IntermediateSize, c);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor textMask, Tensor? imageEmbeds, Tensor? imageMask)
    {
        using var scope = NewDisposeScope();
        var x = attention.Forward(hidden, textMask);
        if (crossattention is not null)
        {
            if (imageEmbeds is null) throw new InvalidOperationException("a fusion layer needs image embeddings");
            x = crossattention.Forward(x, imageMask, imageEmbeds);
        }
        var y = output.Forward(intermediate.Forward(x), x);
        return y.MoveToOuterDisposeScope();
    }
}

public sealed class BertEncoder : nn.Module
{
    public readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig c) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>();
        for (int i = 0; i < c.NumHiddenLayers; i++) layer.Add(new BertLayer(c, i));
        RegisterComponents();
    }
}

/// <summary>BERT without pooler (ALBEF builds it with add_pooling_layer=False).</summary>
public sealed class BertModel : nn.Module
{
    public readonly BertEmbeddings embeddings;
    public readonly BertEncoder encoder;

    public BertModel(BertConfig c) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(c);
        encoder = new BertEncoder(c);
        RegisterComponents();
    }

    public BertLayer Layer(int i) => encoder.layer[i];
    public int LayerCount => encoder.layer.Count;
}

/// <summary>The masked-LM head <c>cls.predictions</c>: transform (dense, GELU, LayerNorm), then the decoder tied to the word embeddings.</summary>
public sealed class BertMlmPredictionHead : nn.Module
{
    public readonly BertMlmTransform transform;
    public readonly Linear decoder;
    public readonly Parameter bias;

    public BertMlmPredictionHead(BertConfig c, Embedding wordEmbeddings) : base(nameof(BertMlmPredictionHead))
    {
        transform = new BertMlmTransform(c);
        decoder = Layers.Linear(c.HiddenSize, c.VocabSize, hasBias: false);
        bias = new Parameter(zeros(c.VocabSize));
        RegisterComponents();
        Tie(wordEmbeddings);
    }

    /// <summary>Ties the decoder weight to the word embeddings (as HF's tie_weights does).</summary>
    public void Tie(Embedding wordEmbeddings) => decoder.weight = wordEmbeddings.weight!;

    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(transform.Forward(hidden)).Plus(bias).MoveToOuterDisposeScope();
    }
}

public sealed class BertMlmTransform : nn.Module
{
    public readonly Linear dense;
    public readonly LayerNorm LayerNorm;

    public BertMlmTransform(BertConfig c) : base(nameof(BertMlmTransform))
    {
        dense = Layers.Linear(c.HiddenSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(F.gelu(dense.forward(x))).MoveToOuterDisposeScope();
    }
}

public sealed class BertMlmHead : nn.Module
{
    public readonly BertMlmPredictionHead predictions;

    public BertMlmHead(BertConfig c, Embedding wordEmbeddings) : base(nameof(BertMlmHead))
    {
        predictions = new BertMlmPredictionHead(c, wordEmbeddings);
        RegisterComponents();
    }
}

/// <summary>ALBEF's text_encoder (BertForMaskedLM): <c>bert</c> + MLM head <c>cls</c>.</summary>
public sealed class AlbefTextEncoder : nn.Module
{
    public readonly BertModel bert;
    public readonly BertMlmHead cls;

    public AlbefTextEncoder(BertConfig c) : base(nameof(AlbefTextEncoder))
    {
        bert = new BertModel(c);
        cls = new BertMlmHead(c, bert.embeddings.word_embeddings);
        RegisterComponents();
    }
}
