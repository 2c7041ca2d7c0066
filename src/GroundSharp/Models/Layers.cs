using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Models;

/// <summary>
/// The linear and embedding layers the models are built from: with TorchSharp's default initial values, or — inside
/// <see cref="Uninitialised"/> — only allocated, for a model whose every weight a checkpoint is about to replace.
/// Drawing ALBEF-base's 210 M default values costs most of a second that a load would then throw away.
/// </summary>
internal static class Layers
{
    private static readonly AsyncLocal<bool> SkipInit = new();

    /// <summary>Until disposed, layers made on this thread (and its async flow) are allocated, not initialised.</summary>
    public static IDisposable Uninitialised()
    {
        bool before = SkipInit.Value;
        SkipInit.Value = true;
        return new Restore(before);
    }

    public static Linear Linear(long inputSize, long outputSize, bool hasBias = true) => SkipInit.Value
        ? nn.Linear(new Parameter(empty(outputSize, inputSize)), hasBias ? new Parameter(empty(outputSize)) : null)
        : nn.Linear(inputSize, outputSize, hasBias);

    public static Embedding Embedding(long count, long dimension, long? paddingIndex = null)
    {
        if (!SkipInit.Value) return nn.Embedding(count, dimension, padding_idx: paddingIndex);
        // libtorch's Embedding draws its table in its constructor, also in from_pretrained (~0.13 s for BERT's 30522 x 768):
        // build a one-row module and give it the allocated table; its forward and padding row read the weight it has.
        var layer = nn.Embedding(Math.Max(1, (paddingIndex ?? 0) + 1), dimension, padding_idx: paddingIndex);
        layer.weight = new Parameter(empty(count, dimension));
        return layer;
    }

    private sealed class Restore(bool before) : IDisposable
    {
        public void Dispose() => SkipInit.Value = before;
    }
}
