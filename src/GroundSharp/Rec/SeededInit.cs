using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// PyTorch's default initialisation for the layer types the REC models use, drawn from a private generator so
/// a seed gives the same weights whatever other threads do with the global one. Parameters of other modules
/// (gates, loss weights) keep the values their constructors gave them.
/// </summary>
internal static class SeededInit
{
    public static void Apply(nn.Module root, long? seed)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)(seed ?? Random.Shared.NextInt64()));
        foreach (var (_, module) in root.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    Uniform(conv.weight!, 1.0 / Math.Sqrt(conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]), generator);
                    conv.bias?.zero_();
                    break;
                case Linear linear:
                    Uniform(linear.weight!, 1.0 / Math.Sqrt(linear.weight!.shape[1]), generator);
                    linear.bias?.zero_();
                    break;
                case Embedding embedding:
                    using (var n = randn(embedding.weight!.shape, generator: generator)) embedding.weight.copy_(n);
                    break;
                case GRU gru:
                    foreach (var p in gru.parameters()) Uniform(p, 1.0 / Math.Sqrt(gru.parameters().Last().shape[0] / 3.0), generator);
                    break;
                case BatchNorm2d bn:
                    bn.weight!.fill_(1.0);
                    bn.bias!.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight!.fill_(1.0);
                    norm.bias!.zero_();
                    break;
            }
        }
    }

    private static void Uniform(Tensor p, double bound, Generator generator)
    {
        using var u = rand(p.shape, generator: generator);
        using var scaled = u * (2 * bound) - bound;
        p.copy_(scaled);
    }
}

/// <summary>Strict state-dict loading with errors that name the file and the tensor.</summary>
internal static class StateDicts
{
    public static void LoadStrict(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors, string path)
    {
        var own = model.state_dict();
        var missing = own.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
        var unexpected = tensors.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new GroundSharpException($"'{path}' does not match the model: missing [{string.Join(", ", missing.Take(8))}]{(missing.Count > 8 ? " ..." : "")}, unexpected [{string.Join(", ", unexpected.Take(8))}]{(unexpected.Count > 8 ? " ..." : "")}");
        using var _ = no_grad();
        foreach (var (name, target) in own)
        {
            var source = tensors[name];
            if (!source.shape.SequenceEqual(target.shape))
                throw new GroundSharpException($"'{path}': tensor '{name}' has shape [{string.Join(", ", source.shape)}], the model needs [{string.Join(", ", target.shape)}]");
            target.copy_(source);
        }
    }
}
