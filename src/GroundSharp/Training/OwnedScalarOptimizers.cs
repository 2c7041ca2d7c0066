using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>
/// TorchSharp's AdamW with a step that owns every <see cref="Scalar"/> it hands to libtorch. TorchSharp 0.107's own
/// step turns ~9 numbers per parameter into Scalars that nothing keeps alive during the native call (the Scalar
/// race, docs/torchsharp-native.md); here the same operations, in the same order, take Scalars that live until the
/// step returns, so the values are bitwise those of TorchSharp's <c>optim.AdamW</c> (tested). State and state_dict are the base class's.
/// </summary>
public sealed class OwnedScalarAdamW : AdamW
{
    public OwnedScalarAdamW(IEnumerable<ParamGroup> groups, double lr, double weightDecay) : base(groups, lr, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        using var h = new AdamScalars(o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value);
        using var decay = (1 - h.Lr * o.weight_decay!.Value).ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            if (param.grad is not { } grad) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step += 1;
            param.mul_(decay);
            h.Update(param, grad, state.exp_avg, state.exp_avg_sq, ref state.max_exp_avg_sq, o.amsgrad!.Value, state.step);
        }
    }, closure);
}

/// <summary>TorchSharp's Adam (L2 weight decay added to the gradient) with owned Scalars, as <see cref="OwnedScalarAdamW"/>.</summary>
public sealed class OwnedScalarAdam : Adam
{
    public OwnedScalarAdam(IEnumerable<Parameter> parameters, double lr, double weightDecay = 0) : base(parameters, lr, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        using var h = new AdamScalars(o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value);
        double weightDecay = o.weight_decay!.Value;
        using var decay = weightDecay.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            if (param.grad is not { } grad) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step += 1;
            if (weightDecay != 0) grad = grad.add(param, decay);
            h.Update(param, grad, state.exp_avg, state.exp_avg_sq, ref state.max_exp_avg_sq, o.amsgrad!.Value, state.step);
        }
    }, closure);
}

/// <summary>One group's Adam constants as owned Scalars, and the moment update and parameter step Adam and AdamW share.</summary>
internal sealed class AdamScalars : IDisposable
{
    private readonly double _beta1, _beta2;
    private readonly Scalar _b1, _oneMinusB1, _b2, _oneMinusB2, _eps;

    public AdamScalars(double lr, double beta1, double beta2, double eps)
    {
        Lr = lr;
        (_beta1, _beta2) = (beta1, beta2);
        _b1 = beta1.ToScalar();
        _oneMinusB1 = (1 - beta1).ToScalar();
        _b2 = beta2.ToScalar();
        _oneMinusB2 = (1 - beta2).ToScalar();
        _eps = eps.ToScalar();
    }

    public double Lr { get; }

    /// <summary>TorchSharp's operations in its order: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g·ḡ, p ← p − lr/(1−β1ᵗ) · m / (√v̂/√(1−β2ᵗ) + ε).</summary>
    public void Update(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, ref Tensor maxExpAvgSq, bool amsgrad, long step)
    {
        double biasCorrection1 = 1 - Math.Pow(_beta1, step), biasCorrection2 = 1 - Math.Pow(_beta2, step);
        expAvg.mul_(_b1).add_(grad, _oneMinusB1);
        expAvgSq.mul_(_b2).addcmul_(grad, grad.conj(), _oneMinusB2);
        var second = expAvgSq;
        if (amsgrad)
        {
            var previous = maxExpAvgSq;
            maxExpAvgSq = maximum(previous, expAvgSq).DetachFromDisposeScope();
            previous.Dispose();
            second = maxExpAvgSq;
        }
        using var sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        var denom = second.sqrt().div(sqrtCorrection2).add_(_eps, TensorScalars.One);
        using var negativeStep = (-(Lr / biasCorrection1)).ToScalar();
        param.addcdiv_(expAvg, denom, negativeStep);
    }

    public void Dispose()
    {
        _b1.Dispose();
        _oneMinusB1.Dispose();
        _b2.Dispose();
        _oneMinusB2.Dispose();
        _eps.Dispose();
    }
}
