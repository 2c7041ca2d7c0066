using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

/// <summary>
/// Multi-head scaled dot-product attention, softmax(Q·Kᵀ / √d_head)·V, with separate query and key/value inputs
/// (self-attention passes the same tensor twice). Keys where <c>keyMask</c> is false are ignored.
/// </summary>
public sealed class MultiHeadAttention : nn.Module
{
    public readonly Linear query;
    public readonly Linear key;
    public readonly Linear value;
    public readonly Linear output;
    private readonly int _heads;

    public MultiHeadAttention(int dim, int heads) : base(nameof(MultiHeadAttention))
    {
        if (heads < 1 || dim % heads != 0) throw new GroundSharpException($"attention width {dim} must be divisible by the head count {heads}");
        _heads = heads;
        query = nn.Linear(dim, dim);
        key = nn.Linear(dim, dim);
        value = nn.Linear(dim, dim);
        output = nn.Linear(dim, dim);
        RegisterComponents();
    }

    /// <param name="queries">(B, Nq, D).</param>
    /// <param name="keysValues">(B, Nk, D).</param>
    /// <param name="keyMask">(B, Nk) bool, true = attend; null = all.</param>
    public Tensor Forward(Tensor queries, Tensor keysValues, Tensor? keyMask = null)
    {
        using var scope = NewDisposeScope();
        long b = queries.shape[0], nq = queries.shape[1], nk = keysValues.shape[1], d = queries.shape[2];
        long dh = d / _heads;
        var q = query.forward(queries).view(b, nq, _heads, dh).transpose(1, 2);
        var k = key.forward(keysValues).view(b, nk, _heads, dh).transpose(1, 2);
        var v = value.forward(keysValues).view(b, nk, _heads, dh).transpose(1, 2);
        var scores = q.matmul(k.transpose(-2, -1)).DivBy(Math.Sqrt(dh));
        if (keyMask is not null) scores = scores.MaskedFillWith(keyMask.logical_not().view(b, 1, 1, nk), -1e9);
        var attended = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(b, nq, d);
        return output.forward(attended).MoveToOuterDisposeScope();
    }
}

