using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Training;

/// <summary>
/// TorchSharp's AdamW with a step that owns every <see cref="Scalar"/> it hands to libtorch. TorchSharp 0.107's own
/// step turns ~9 numbers per parameter into Scalars that nothing keeps alive during the native call (the Scalar
/// race, docs/torchsharp-native.md); here the same operations, in the same order, take Scalars that live until the
/// step returns, so the values are bitwise those of <see cref="optim.AdamW"/> (tested). State and state_dict are the base class's.
/// </summary>
public sealed class OwnedScalarAdamW : AdamW
{
    public OwnedScalarAdamW(IEnumerable<ParamGroup> groups, double lr, double weightDecay) : base(groups, lr, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, weightDecay = o.weight_decay!.Value;
        using var decay = (1 - lr * weightDecay).ToScalar();
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var epsilon = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step += 1;
            param.mul_(decay);
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step), biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
            using var sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            Tensor denom;
            if (o.amsgrad!.Value)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                denom = state.max_exp_avg_sq.sqrt().div(sqrtCorrection2).add_(epsilon, TensorScalars.One);
            }
            else denom = state.exp_avg_sq.sqrt().div(sqrtCorrection2).add_(epsilon, TensorScalars.One);
            using var negativeStep = (-(lr / biasCorrection1)).ToScalar();
            param.addcdiv_(state.exp_avg, denom, negativeStep);
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
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, weightDecay = o.weight_decay!.Value;
        using var decay = weightDecay.ToScalar();
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var epsilon = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step += 1;
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step), biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            if (weightDecay != 0) grad = grad.add(param, decay);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad.conj(), oneMinusB2);
            using var sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            Tensor denom;
            if (o.amsgrad!.Value)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                denom = state.max_exp_avg_sq.sqrt().div(sqrtCorrection2).add_(epsilon, TensorScalars.One);
            }
            else denom = state.exp_avg_sq.sqrt().div(sqrtCorrection2).add_(epsilon, TensorScalars.One);
            using var negativeStep = (-(lr / biasCorrection1)).ToScalar();
            param.addcdiv_(state.exp_avg, denom, negativeStep);
        }
    }, closure);
}
