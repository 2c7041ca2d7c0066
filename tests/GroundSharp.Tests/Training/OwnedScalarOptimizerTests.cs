using GroundSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Training;

public class OwnedScalarOptimizerTests
{
    /// <summary>Two parameter sets with the same values, and a function giving both the same gradients for a step.</summary>
    private static (Parameter[] A, Parameter[] B) Twins()
    {
        using var gen = new Generator(5);
        var shapes = new[] { new long[] { 3, 4 }, new long[] { 4 } };
        var a = shapes.Select(s => new Parameter(randn(s, generator: gen))).ToArray();
        var b = a.Select(p => new Parameter(p.detach().clone())).ToArray();
        return (a, b);
    }

    private static void SetGradients(Parameter[] ps, int step)
    {
        using var gen = new Generator((ulong)(100 + step));
        foreach (var p in ps)
        {
            using var g = randn(p.shape, generator: gen);
            using (no_grad()) p.grad = g.clone();
        }
    }

    private static void AssertBitwiseEqual(Parameter[] a, Parameter[] b)
    {
        for (int i = 0; i < a.Length; i++)
            Assert.Equal(a[i].detach().data<float>().ToArray(), b[i].detach().data<float>().ToArray());
    }

    [Fact]
    public void AdamW_StepsAreBitwiseTorchSharps()
    {
        var (a, b) = Twins();
        AdamW.ParamGroup[] Groups(Parameter[] ps) =>
        [
            new(new[] { ps[0] }, new AdamW.Options { LearningRate = 1e-2, weight_decay = 0.05 }),
            new(new[] { ps[1] }, new AdamW.Options { LearningRate = 1e-2, weight_decay = 0.0 }),
        ];
        using var reference = optim.AdamW(Groups(a), 1e-2, weight_decay: 0.05);
        using var owned = new OwnedScalarAdamW(Groups(b), 1e-2, 0.05);
        for (int step = 0; step < 5; step++)
        {
            foreach (var g in reference.ParamGroups.Concat(owned.ParamGroups)) g.LearningRate = 1e-2 / (step + 1);
            SetGradients(a, step);
            SetGradients(b, step);
            reference.step();
            owned.step();
            AssertBitwiseEqual(a, b);
        }
    }

    [Fact]
    public void Adam_StepsAreBitwiseTorchSharps_WithAndWithoutWeightDecay()
    {
        foreach (double decay in new[] { 0.0, 1e-3 })
        {
            var (a, b) = Twins();
            using var reference = optim.Adam(a, 3e-3, weight_decay: decay);
            using var owned = new OwnedScalarAdam(b, 3e-3, decay);
            for (int step = 0; step < 5; step++)
            {
                SetGradients(a, step);
                SetGradients(b, step);
                reference.step();
                owned.step();
                AssertBitwiseEqual(a, b);
            }
        }
    }
}
