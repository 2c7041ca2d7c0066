using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>
/// Initialisation for the layer types the REC models use (PyTorch's defaults, He-normal for convs), drawn from a private generator so
/// a seed gives the same weights whatever other threads do with the global one. Parameters of other modules
/// (gates, loss weights) keep the values their constructors gave them.
/// </summary>
internal static class SeededInit
{
    public static void Apply(nn.Module root, long? seed)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)(seed ?? Random.Shared.NextInt64()));
        // named_modules() lists the descendants only: a bare Linear given as the root would keep TorchSharp's default
        // init, drawn from the global generator (RecModel's two projections did, so a seed did not fix them).
        foreach (var module in root.named_modules().Select(m => m.module).Prepend(root))
        {
            switch (module)
            {
                case Conv2d conv:
                    // He-normal (fan-in, ReLU gain): PyTorch's default shrinks activations ~√3 per layer, and through
                    // DarkNet's 75 convs a fresh detector's features would vanish (~1e-6) before any training.
                    double std = Math.Sqrt(2.0 / (conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]));
                    using (var n = randn(conv.weight.shape, generator: generator)) conv.weight.copy_(n.MulBy(std));
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
                    // PyTorch: U(±1/√hidden) for every GRU weight and bias; weight_hh is (3·hidden, hidden).
                    double bound = 1.0 / Math.Sqrt(gru.get_parameter("weight_hh_l0")!.shape[1]);
                    foreach (var p in gru.parameters()) Uniform(p, bound, generator);
                    break;
                case BatchNorm2d bn:
                    bn.weight!.FillWith(1.0);
                    bn.bias!.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight!.FillWith(1.0);
                    norm.bias!.zero_();
                    break;
            }
        }
    }

    private static void Uniform(Tensor p, double bound, Generator generator)
    {
        using var u = rand(p.shape, generator: generator);
        using var scaled = u.MulBy(2 * bound).Minus(bound);
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
