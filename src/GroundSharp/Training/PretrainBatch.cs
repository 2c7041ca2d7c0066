using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>
/// One training batch on the model's device: normalised images (B,3,R,R), token ids and mask (B,L), region
/// masks (B,R,R) (all zero for caption-only samples) and the per-sample box indicator.
/// </summary>
public sealed class PretrainBatch : IDisposable
{
    public PretrainBatch(Tensor images, Tensor inputIds, Tensor attentionMask, Tensor boxMasks, bool[] hasBox)
    {
        long b = images.shape[0];
        if (inputIds.shape[0] != b || attentionMask.shape[0] != b || boxMasks.shape[0] != b || hasBox.Length != b)
            throw new ArgumentException("all parts of a batch must have the same batch size");
        Images = images;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        BoxMasks = boxMasks;
        HasBox = hasBox;
    }

    public Tensor Images { get; }
    public Tensor InputIds { get; }
    public Tensor AttentionMask { get; }
    public Tensor BoxMasks { get; }
    public bool[] HasBox { get; }
    /// <summary>(B, K) multi-hot image-level tags (<see cref="TagVocabulary"/>), or null when the step has no tag objective.</summary>
    public Tensor? Tags { get; init; }
    /// <summary>
    /// [i, j]: the text of item j is true of image i by <see cref="NegativeFilter"/> (never set on the diagonal),
    /// so j must not serve as a contrastive or ITM negative of i; null = every other item is a negative (ALBEF).
    /// </summary>
    public bool[,]? TextFitsImage { get; init; }
    /// <summary>Word-swapped negative texts of some items (<see cref="WordSwapNegatives"/>); null = none.</summary>
    public ItemTexts? SwappedNegatives { get; init; }
    /// <summary>Tag texts matched against their items' images, labelled (<see cref="TagMatching"/>); null = none.</summary>
    public ItemTexts? TagTexts { get; init; }
    public int Size => HasBox.Length;
    public int BoxCount => HasBox.Count(h => h);

    public PretrainBatch To(Device device)
    {
        if (Images.device == device) return this;
        return new PretrainBatch(Images.to(device), InputIds.to(device), AttentionMask.to(device), BoxMasks.to(device), HasBox)
        {
            Tags = Tags?.to(device),
            TextFitsImage = TextFitsImage,
            SwappedNegatives = SwappedNegatives?.To(device),
            TagTexts = TagTexts?.To(device),
        };
    }

    public void Dispose()
    {
        Images.Dispose();
        InputIds.Dispose();
        AttentionMask.Dispose();
        BoxMasks.Dispose();
        Tags?.Dispose();
        SwappedNegatives?.Dispose();
        TagTexts?.Dispose();
    }
}

/// <summary>
/// Extra texts for some items of a batch: row r belongs to item <see cref="Items"/>[r] (its word-swapped negative, or
/// a tag text matched against its image), with an ITM label per row where the texts carry one.
/// </summary>
public sealed class ItemTexts : IDisposable
{
    public ItemTexts(int[] items, Tensor inputIds, Tensor attentionMask, Tensor? labels = null)
    {
        if (inputIds.shape[0] != items.Length || attentionMask.shape[0] != items.Length || (labels is not null && labels.shape[0] != items.Length))
            throw new ArgumentException("one text (and label) per row");
        Items = items;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
    }

    public int[] Items { get; }
    public Tensor InputIds { get; }
    public Tensor AttentionMask { get; }
    /// <summary>(N) int64 ITM labels (1 = true of the item's image), or null.</summary>
    public Tensor? Labels { get; }

    public ItemTexts To(Device device) => InputIds.device == device ? this : new(Items, InputIds.to(device), AttentionMask.to(device), Labels?.to(device));

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels?.Dispose();
    }
}

/// <summary>Which objectives enter the total loss.</summary>
public sealed record ObjectiveSwitches
{
    public bool Itc { get; init; } = true;
    public bool Itm { get; init; } = true;
    public bool Mlm { get; init; } = true;
    public bool Amc { get; init; } = true;
    /// <summary>
    /// Unimodal pre-training of the visual encoder on image-level tags (as DeiT on ImageNet labels): multi-label
    /// logistic loss on the patch tokens' maximum (docs/training.md). Off by default (not an ALBEF objective).
    /// </summary>
    public bool Tags { get; init; }
    /// <summary>
    /// ITM on image-level tags as short texts, against tags the image lacks (<see cref="TagMatching"/>; docs/training.md).
    /// Off by default (not an ALBEF objective).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool TagItm { get; init; }
}

/// <summary>The losses of one step. <see cref="Total"/> carries the graph; the parts are detached scalars (null when off or skipped).</summary>
public sealed class PretrainLosses : IDisposable
{
    public required Tensor Total { get; init; }
    public Tensor? Itc { get; init; }
    public Tensor? Itm { get; init; }
    public Tensor? Mlm { get; init; }
    public Tensor? Amc { get; init; }
    public Tensor? Tags { get; init; }
    public Tensor? TagItm { get; init; }
    /// <summary>Samples of the batch that contributed to the AMC loss (those with a box).</summary>
    public int AmcSamples { get; init; }

    /// <summary>The values as doubles (for logging), under the names used in the metrics log.</summary>
    public Dictionary<string, double> ToValues()
    {
        var values = new Dictionary<string, double> { ["loss"] = Total.detach().cpu().ValueAsDouble() };
        if (Itc is not null) values["itc"] = Itc.cpu().ValueAsDouble();
        if (Itm is not null) values["itm"] = Itm.cpu().ValueAsDouble();
        if (Mlm is not null) values["mlm"] = Mlm.cpu().ValueAsDouble();
        if (Amc is not null) values["amc"] = Amc.cpu().ValueAsDouble();
        if (Tags is not null) values["tags"] = Tags.cpu().ValueAsDouble();
        if (TagItm is not null) values["tag_itm"] = TagItm.cpu().ValueAsDouble();
        return values;
    }

    public void Dispose()
    {
        Total.Dispose();
        Itc?.Dispose();
        Itm?.Dispose();
        Mlm?.Dispose();
        Amc?.Dispose();
        Tags?.Dispose();
        TagItm?.Dispose();
    }
}
