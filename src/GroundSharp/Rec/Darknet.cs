using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Rec;

// Field names are the state-dict keys (RegisterComponents uses them).
#pragma warning disable IDE1006, CS8618

/// <summary>Darknet's <c>[convolutional] batch_normalize=1 activation=leaky</c>: conv (no bias), BN, LeakyReLU(0.1).</summary>
public sealed class ConvBnLeaky : nn.Module
{
    public readonly Conv2d conv;
    public readonly BatchNorm2d bn;

    public ConvBnLeaky(long inChannels, long outChannels, long kernel, long stride = 1) : base(nameof(ConvBnLeaky))
    {
        // Darknet pads size/2 ("pad=1"), so a stride-2 3×3 conv halves an even map exactly.
        conv = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: kernel / 2, bias: false);
        bn = nn.BatchNorm2d(outChannels, eps: 1e-5, momentum: 0.01);
        RegisterComponents();
    }

    private static readonly Scalar LeakySlope = 0.1.ToScalar();

    public Tensor Forward(Tensor x)
    {
        using var c = conv.forward(x);
        using var b = BatchNorm(c);
        return b.LeakyRelu(LeakySlope);
    }

    /// <summary>
    /// <c>bn.forward(c)</c> as TorchSharp's BatchNorm2d computes it (momentum set, running statistics tracked), with the
    /// step counter's increment through owned Scalars (its forward adds an unowned 1).
    /// </summary>
    private Tensor BatchNorm(Tensor c)
    {
        if (bn.training && bn.num_batches_tracked is { } tracked)
            using (no_grad()) tracked.add_(TensorScalars.One, TensorScalars.One);
        return F.batch_norm(c, bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.training, bn.momentum!.Value, bn.eps);
    }
}

/// <summary>DarkNet-53 residual block: 1×1 conv to half the channels, 3×3 conv back, plus the input (Darknet's shortcut).</summary>
public sealed class DarknetResidual : nn.Module
{
    public readonly ConvBnLeaky conv1;
    public readonly ConvBnLeaky conv2;

    public DarknetResidual(long channels, long hidden) : base(nameof(DarknetResidual))
    {
        conv1 = new ConvBnLeaky(channels, hidden, 1);
        conv2 = new ConvBnLeaky(hidden, channels, 3);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var h = conv1.Forward(x);
        using var y = conv2.Forward(h);
        return x.Plus(y);
    }
}

/// <summary>One DarkNet-53 stage: a stride-2 3×3 conv, then residual blocks.</summary>
public sealed class DarknetStage : nn.Module
{
    public readonly ConvBnLeaky down;
    public readonly ModuleList<DarknetResidual> blocks;

    public DarknetStage(long inChannels, long channels, long hidden, int depth) : base(nameof(DarknetStage))
    {
        down = new ConvBnLeaky(inChannels, channels, 3, stride: 2);
        blocks = new ModuleList<DarknetResidual>();
        for (int i = 0; i < depth; i++) blocks.Add(new DarknetResidual(channels, hidden));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = down.Forward(x);
        foreach (var block in blocks) y = block.Forward(y);
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// DarkNet-53: a 3×3 stem conv (32 channels), then five stages with 64, 128, 256, 512, 1024 channels
/// (each stride 2). Returns the outputs of stages 3, 4, 5 (strides 8, 16, 32), which the YOLOv3 neck reads.
/// </summary>
public sealed class Darknet53 : nn.Module
{
    public readonly ConvBnLeaky stem;
    public readonly ModuleList<DarknetStage> stages;

    public Darknet53(DetectorConfig config) : base(nameof(Darknet53))
    {
        stem = new ConvBnLeaky(3, config.Channels(32), 3);
        stages = new ModuleList<DarknetStage>();
        int previous = 32;
        for (int s = 0; s < 5; s++)
        {
            int channels = 64 << s;
            stages.Add(new DarknetStage(config.Channels(previous), config.Channels(channels), config.Channels(channels / 2), config.StageDepths[s]));
            previous = channels;
        }
        RegisterComponents();
    }

    /// <summary>(B,3,S,S) → (stride-8, stride-16, stride-32) feature maps.</summary>
    public (Tensor C3, Tensor C4, Tensor C5) Forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = stem.Forward(images);
        x = stages[0].Forward(x);
        x = stages[1].Forward(x);
        var c3 = stages[2].Forward(x);
        var c4 = stages[3].Forward(c3);
        var c5 = stages[4].Forward(c4);
        return (c3.MoveToOuterDisposeScope(), c4.MoveToOuterDisposeScope(), c5.MoveToOuterDisposeScope());
    }
}
