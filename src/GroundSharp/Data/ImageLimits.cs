namespace GroundSharp.Data;

/// <summary>
/// Bounds checked before an image is decoded, so that a small file that claims huge dimensions
/// (a decompression bomb) is rejected from its header.
/// </summary>
public sealed record ImageLimits
{
    /// <summary>40 megapixels: larger than any photo the models need (they see 256–512 px).</summary>
    public const long DefaultMaxPixels = 40_000_000;
    /// <summary>256 MiB of encoded data.</summary>
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;

    public static ImageLimits Default { get; } = new();

    /// <summary>Largest width × height accepted.</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;
    /// <summary>Largest encoded size accepted, in bytes.</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;
}
