using GroundSharp.Data;
using GroundSharp.Models;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>Stacks augmented samples into a <see cref="PretrainBatch"/> (tokenising the texts, padded to the longest).</summary>
public static class BatchCollator
{
    /// <param name="tags">When given, the batch carries the samples' multi-hot tags.</param>
    /// <param name="negatives">When given, the batch says which items must not be each other's negatives.</param>
    public static PretrainBatch Collate(IReadOnlyList<AugmentedSample> samples, AlbefTokenizer tokenizer, AlbefConfig config, Device? device,
        TagVocabulary? tags = null, NegativeFilter? negatives = null)
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
        using var tokens = tokenizer.Encode(samples.Select(s => s.Text).ToList(), config.Bert.MaxPositionEmbeddings, config.MaxWords, device);
        return new PretrainBatch(
            tensor(images, new long[] { samples.Count, 3, res, res }, dtype: ScalarType.Float32, device: device),
            tokens.InputIds.alias(),
            tokens.AttentionMask.alias(),
            tensor(masks, new long[] { samples.Count, res, res }, dtype: ScalarType.Float32, device: device),
            samples.Select(s => s.HasBox).ToArray())
        {
            Tags = tags is null ? null : tensor(tags.MultiHot(samples), new long[] { samples.Count, tags.Count }, dtype: ScalarType.Float32, device: device),
            TextFitsImage = negatives?.Matrix(samples),
        };
    }
}
