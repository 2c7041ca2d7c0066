using GroundSharp.Data;
using GroundSharp.Models;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>Stacks augmented samples into a <see cref="PretrainBatch"/> (tokenising the texts, padded to the longest).</summary>
public static class BatchCollator
{
    /// <param name="tags">When given, the batch carries the samples' multi-hot tags.</param>
    /// <param name="negatives">When given, the batch says which items must not be each other's negatives.</param>
    /// <param name="swaps">When given, each item's text gets a word-swapped negative with probability Share (drawn from Rng).</param>
    /// <param name="tagMatching">When given, the batch carries tag texts for the tagged items (drawn from Rng).</param>
    public static PretrainBatch Collate(IReadOnlyList<AugmentedSample> samples, AlbefTokenizer tokenizer, AlbefConfig config, Device? device,
        TagVocabulary? tags = null, NegativeFilter? negatives = null, (WordSwapNegatives Swapper, double Share, Random Rng)? swaps = null,
        (TagMatching Matching, Random Rng)? tagMatching = null)
    {
        if (samples.Count == 0) throw new ArgumentException("no samples to collate", nameof(samples));
        int res = config.ImageRes;
        int plane = 3 * res * res, maskPlane = res * res;
        var images = new float[samples.Count * plane];
        var masks = new float[samples.Count * maskPlane];
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i].Resolution != res) throw new ArgumentException($"sample {i} has resolution {samples[i].Resolution}, the model {res}");
            Array.Copy(samples[i].Image, 0, images, i * plane, plane);
            Array.Copy(samples[i].Mask, 0, masks, i * maskPlane, maskPlane);
        }
        var texts = samples.Select(s => s.Text).ToList();
        var swappedRows = new List<int>();
        if (swaps is var (swapper, share, rng))
            for (int i = 0; i < samples.Count; i++)
                if (rng.NextDouble() < share && samples[i].Origin is { } origin && swapper.Swap(samples[i].Text, origin.ImagePath, rng) is { } swapped)
                {
                    swappedRows.Add(i);
                    texts.Add(swapped);
                }
        // The swapped texts are tokenised with the batch's own, so that both pad to one length (ITM fuses them together).
        using var tokens = tokenizer.Encode(texts, config.Bert.MaxPositionEmbeddings, config.MaxWords, device);
        int b = samples.Count, k = swappedRows.Count;
        ItemTexts? tagTexts = null;
        if (tagMatching is var (matching, tagRng)
            && matching.Draw(samples.Select(s => s.Origin?.Tags).ToList(), tagRng) is { Count: > 0 } pairs)
        {
            // Their own pad length: tag texts are a few tokens, the batch's captions many.
            using var tagTokens = tokenizer.Encode(pairs.Select(p => p.Text).ToList(), config.Bert.MaxPositionEmbeddings, config.MaxWords, device);
            tagTexts = new ItemTexts(pairs.Select(p => p.Item).ToArray(), tagTokens.InputIds.alias(), tagTokens.AttentionMask.alias(),
                tensor(pairs.Select(p => p.Present ? 1L : 0L).ToArray(), dtype: ScalarType.Int64, device: device));
        }
        return new PretrainBatch(
            tensor(images, new long[] { samples.Count, 3, res, res }, dtype: ScalarType.Float32, device: device),
            tokens.InputIds.narrow(0, 0, b).contiguous(),
            tokens.AttentionMask.narrow(0, 0, b).contiguous(),
            tensor(masks, new long[] { samples.Count, res, res }, dtype: ScalarType.Float32, device: device),
            samples.Select(s => s.HasBox).ToArray())
        {
            Tags = tags is null ? null : tensor(tags.MultiHot(samples), new long[] { samples.Count, tags.Count }, dtype: ScalarType.Float32, device: device),
            TextFitsImage = negatives?.Matrix(samples),
            SwappedNegatives = k == 0 ? null : new ItemTexts(swappedRows.ToArray(), tokens.InputIds.narrow(0, b, k).contiguous(), tokens.AttentionMask.narrow(0, b, k).contiguous()),
            TagTexts = tagTexts,
        };
    }
}
