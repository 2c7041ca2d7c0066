using GroundSharp.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>The token ids masked-language-modelling needs to know.</summary>
public sealed record MlmTokens(int VocabSize, int PadId, int ClsId, int SepId, int MaskId)
{
    public static MlmTokens From(AlbefTokenizer tokenizer, int modelVocabSize) =>
        new(modelVocabSize, tokenizer.PadId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId);
}

/// <summary>Inputs and labels of one MLM batch; labels are -100 where no prediction is asked.</summary>
public sealed record MaskedTokens(Tensor InputIds, Tensor Labels) : IDisposable
{
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// BERT/ALBEF masking: each token is chosen with probability p (never [CLS], [SEP] or [PAD]); of the chosen,
/// 80% become [MASK], 10% a uniformly random token id, 10% stay. ALBEF itself also masks [SEP]; we do not,
/// as the issue asks.
/// </summary>
public static class MlmMasking
{
    public const long IgnoreIndex = -100;

    public static MaskedTokens Mask(Tensor inputIds, MlmTokens tokens, double probability, Generator? generator = null)
    {
        if (!(probability > 0 && probability < 1)) throw new ArgumentOutOfRangeException(nameof(probability), probability, "must be in (0, 1)");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = inputIds.device;
        var special = inputIds.IsEqualTo(tokens.PadId).logical_or(inputIds.IsEqualTo(tokens.ClsId)).logical_or(inputIds.IsEqualTo(tokens.SepId));
        var chosen = TensorScalars.Full(inputIds.shape, probability, ScalarType.Float32, device).bernoulli(generator: generator).to_type(ScalarType.Bool)
            .logical_and(special.logical_not());
        var labels = where(chosen, inputIds, TensorScalars.FullLike(inputIds, IgnoreIndex));
        var replaced = TensorScalars.Full(inputIds.shape, 0.8, ScalarType.Float32, device).bernoulli(generator: generator).to_type(ScalarType.Bool)
            .logical_and(chosen);
        var randomised = TensorScalars.Full(inputIds.shape, 0.5, ScalarType.Float32, device).bernoulli(generator: generator).to_type(ScalarType.Bool)
            .logical_and(chosen).logical_and(replaced.logical_not());
        var randomWords = randint(tokens.VocabSize, inputIds.shape, dtype: ScalarType.Int64, device: device, generator: generator);
        var ids = where(replaced, TensorScalars.FullLike(inputIds, tokens.MaskId), inputIds);
        ids = where(randomised, randomWords, ids);
        return new MaskedTokens(ids.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// ALBEF's hard negatives for ITM: for each row, one column drawn with probability proportional to the row's
/// softmax similarity, the positive (the diagonal) excluded.
/// </summary>
public static class HardNegatives
{
    /// <param name="similarity">(B, B) similarities (logits) of row items to the batch's column items.</param>
    /// <param name="randomFraction">Share of the sampling mass spread uniformly over the other columns: 0 is
    /// ALBEF (softmax weights only), 1 is uniformly random negatives.</param>
    /// <param name="excluded">[row, column] pairs that must not be drawn (a text true of the image, see
    /// <see cref="NegativeFilter"/>); a row with every other column excluded falls back to all of them.</param>
    /// <returns>For each row, the index of its negative column (never the row's own index).</returns>
    public static long[] Sample(Tensor similarity, Generator? generator = null, double randomFraction = 0, bool[,]? excluded = null)
    {
        if (randomFraction is < 0 or > 1 || double.IsNaN(randomFraction)) throw new ArgumentOutOfRangeException(nameof(randomFraction), randomFraction, "must be in [0, 1]");
        long b = similarity.shape[0];
        if (similarity.dim() != 2 || similarity.shape[1] != b) throw new ArgumentException("similarity must be square (B, B)");
        if (b < 2) throw new ArgumentException("hard negatives need a batch of at least 2");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weights = similarity.detach().to_type(ScalarType.Float64).softmax(1);
        weights = weights * eye(b, dtype: ScalarType.Float64, device: weights.device).SubtractedFrom(1.0);
        // A row whose off-diagonal mass underflowed to zero falls back to uniform over the other columns.
        var empty = weights.sum(1, keepdim: true).IsAtMost(0);
        var others = eye(b, dtype: ScalarType.Float64, device: weights.device).SubtractedFrom(1.0);
        weights = where(empty, others, weights);
        if (excluded is not null)
        {
            if (excluded.GetLength(0) != b || excluded.GetLength(1) != b) throw new ArgumentException("excluded must be (B, B) like the similarity");
            var allowed = new double[b * b];
            for (int i = 0; i < b; i++)
            {
                bool any = false;
                for (int j = 0; j < b; j++) any |= i != j && !excluded[i, j];
                for (int j = 0; j < b; j++) allowed[i * b + j] = i != j && (!any || !excluded[i, j]) ? 1 : 0;
            }
            others = tensor(allowed, new long[] { b, b }, dtype: ScalarType.Float64, device: weights.device);
            weights = weights * others;
            weights = where(weights.sum(1, keepdim: true).IsAtMost(0), others, weights);
        }
        // Mixed in only when asked, so that the default draws exactly ALBEF's samples.
        if (randomFraction > 0)
            weights = (weights / weights.sum(1, keepdim: true)).MulBy(1 - randomFraction).Plus((others / others.sum(1, keepdim: true)).MulBy(randomFraction));
        var picks = multinomial(weights, 1, replacement: false, generator: generator).view(-1);
        return picks.cpu().data<long>().ToArray();
    }
}
