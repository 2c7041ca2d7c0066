using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp;

/// <summary>
/// Tensor–number arithmetic with explicitly owned <see cref="Scalar"/>s. TorchSharp 0.107's operators
/// (<c>tensor / 2.0</c>, <c>tensor + 1e-7</c>) create a Scalar (and an alpha of 1) that nothing keeps alive
/// during the native call, so the finalizer can free it mid-call: long runs then failed with "Unknown scalar
/// type" / <c>Scalar::toFloat</c> errors. Here the Scalar lives until the call returns; values are identical.
/// </summary>
public static class TensorScalars
{
    private static readonly Scalar One = 1.ToScalar();
    private static readonly Scalar Zero = 0.ToScalar();

    public static Tensor DivBy(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.div(s);
    }

    public static Tensor MulBy(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.mul(s);
    }

    public static Tensor Plus(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.add(s, One);
    }

    /// <summary><c>value − x</c>, computed as <c>(−x) + value</c> (the same IEEE result).</summary>
    public static Tensor SubtractedFrom(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        using var negated = x.neg();
        return negated.add(s, One);
    }

    /// <summary><c>max(x, 0)</c> elementwise.</summary>
    public static Tensor ClampMinZero(this Tensor x) => x.clamp_min(Zero);
}
