using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp;

/// <summary>
/// Tensor–number operations with explicitly owned <see cref="Scalar"/>s. TorchSharp 0.107's operators and overloads
/// that take numbers (<c>tensor / 2.0</c>, <c>tensor + other</c>, which passes an alpha of 1, <c>eq(0)</c>,
/// <c>fill_(1.0)</c>) create a Scalar that nothing keeps alive during the native call, so the finaliser can free it
/// mid-call: long runs failed with "Unknown scalar type" / <c>Scalar::toFloat</c> errors, and a freed Scalar read
/// as garbage could also give a wrong value silently. Here each Scalar lives until the call returns (a
/// <c>using</c>, or a static one for 1 and 0); values are identical to the operators'. The implicit conversions and
/// the operators are banned in this project (build/BannedSymbols.txt), so every call site goes through here.
/// An integer argument makes an integer Scalar (as the implicit conversion did), a double a double one.
/// </summary>
public static class TensorScalars
{
    /// <summary>Scalars that live as long as the process (never finalised): alphas, exponents, bounds.</summary>
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>The value of a one-element tensor (TorchSharp's ToDouble() leaves its Scalar to the finaliser).</summary>
    public static double ValueAsDouble(this Tensor x)
    {
        using var s = x.ToScalar();
        return s.ToDouble();
    }

    public static float ValueAsSingle(this Tensor x)
    {
        using var s = x.ToScalar();
        return s.ToSingle();
    }

    public static long ValueAsInt64(this Tensor x)
    {
        using var s = x.ToScalar();
        return s.ToInt64();
    }

    public static bool ValueAsBoolean(this Tensor x)
    {
        using var s = x.ToScalar();
        return s.ToBoolean();
    }

    /// <summary><c>x²</c> as <c>pow(x, 2)</c>, which is what TorchSharp's square() runs (with a Scalar 2 it does not keep alive).</summary>
    public static Tensor Squared(this Tensor x) => x.pow(Two);

    /// <summary><c>leaky_relu(x, slope)</c>; TorchSharp's functional form turns the slope into an unowned Scalar.</summary>
    public static Tensor LeakyRelu(this Tensor x, Scalar slope) => x.leaky_relu(slope);

    /// <summary><c>x + y</c> (tensor + tensor, alpha 1).</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);

    /// <summary><c>x += y</c> in place (alpha 1).</summary>
    public static Tensor PlusInPlace(this Tensor x, Tensor y) => x.add_(y, One);

    public static Tensor Plus(this Tensor x, double value) => With(value, s => x.add(s, One));

    public static Tensor Minus(this Tensor x, double value) => With(value, s => x.sub(s));

    /// <summary><c>value − x</c>, computed as <c>(−x) + value</c> (the same IEEE result, and what TorchSharp's operator does).</summary>
    public static Tensor SubtractedFrom(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        using var negated = x.neg();
        return negated.add(s, One);
    }

    public static Tensor MulBy(this Tensor x, double value) => With(value, s => x.mul(s));

    public static Tensor MulBy(this Tensor x, long value) => With(value, s => x.mul(s));

    public static Tensor DivBy(this Tensor x, double value) => With(value, s => x.div(s));

    /// <summary><c>max(x, 0)</c> elementwise.</summary>
    public static Tensor ClampMinZero(this Tensor x) => x.clamp_min(Zero);

    public static Tensor ClampMin(this Tensor x, double min) => With(min, s => x.clamp_min(s));

    public static Tensor ClampInPlace(this Tensor x, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return x.clamp_(lo, hi);
    }

    public static Tensor FillWith(this Tensor x, double value) => With(value, s => x.fill_(s));

    public static Tensor MaskedFillWith(this Tensor x, Tensor mask, double value) => With(value, s => x.masked_fill(mask, s));

    public static Tensor MaskedFillWithInPlace(this Tensor x, Tensor mask, double value) => With(value, s => x.masked_fill_(mask, s));

    public static Tensor IsEqualTo(this Tensor x, long value) => With(value, s => x.eq(s));

    public static Tensor IsNotEqualTo(this Tensor x, long value) => With(value, s => x.ne(s));

    public static Tensor IsAtMost(this Tensor x, double value) => With(value, s => x.le(s));

    public static Tensor IsAtLeast(this Tensor x, double value) => With(value, s => x.ge(s));

    public static Tensor IsGreaterThan(this Tensor x, double value) => With(value, s => x.gt(s));

    /// <summary><c>torch.full(shape, value)</c>.</summary>
    public static Tensor Full(long[] shape, double value, ScalarType dtype, Device? device = null) => With(value, s => full(shape, s, dtype: dtype, device: device));

    /// <summary><c>torch.full_like(x, value)</c> for an integer value (an integer Scalar).</summary>
    public static Tensor FullLike(Tensor x, long value) => With(value, s => full_like(x, s));

    /// <summary><c>torch.arange(n)</c>, through the overload that takes start, stop and step (the others add unowned ones).</summary>
    public static Tensor Arange(long n, ScalarType dtype, Device? device = null) => With(n, stop => arange(Zero, stop, One, dtype: dtype, device: device));

    /// <summary>Runs <paramref name="op"/> with <paramref name="value"/> as a Scalar that lives until it returns.</summary>
    private static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var s = value.ToScalar();
        return op(s);
    }

    /// <summary>As above with an integer Scalar (what the implicit conversion of an integer made).</summary>
    private static Tensor With(long value, Func<Scalar, Tensor> op)
    {
        using var s = value.ToScalar();
        return op(s);
    }
}
