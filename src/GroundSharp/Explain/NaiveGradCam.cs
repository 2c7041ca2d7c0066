using GroundSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.Explain;

/// <summary>
/// GradCAM computed the way the authors' evaluation script does: per (image, phrase) pair, the whole model
/// runs with a graph and <c>backward()</c> fills every parameter's gradient. Kept as the baseline of the
/// <c>bench</c> command and as a cross-check of <see cref="GradCam.ForGrounding"/>.
/// </summary>
public static class NaiveGradCam
{
    /// <returns>(1, h, w) map for one phrase (ids/mask of batch 1) on one image (1,3,R,R).</returns>
    public static Tensor ForPair(AlbefModel model, Tensor image, Tensor inputIds, Tensor attentionMask, int? layer = null)
    {
        var cfg = model.Config;
        int g = layer ?? cfg.EffectiveGradcamLayer;
        var cross = model.Bert.Layer(g).crossattention!.self;
        Tensor? probs = null;
        using var scope = NewDisposeScope();
        var tap = cross.TapProbabilities(p =>
        {
            p.retain_grad();
            probs = p.DetachFromDisposeScope();
            return p;
        });
        try
        {
            using var _ = enable_grad();
            var imageEmbeds = model.EncodeImage(image);
            var text = model.EncodeText(inputIds, attentionMask);
            var fused = model.Fuse(text, attentionMask, imageEmbeds);
            var logits = model.ItmLogits(fused, attentionMask);
            logits.select(1, 1).sum().backward();
            var map = GradCam.MapFromAttention(probs!.detach(), probs!.grad!, attentionMask, cfg.GridSize, cfg.GridSize);
            return map.MoveToOuterDisposeScope();
        }
        finally
        {
            tap.Dispose();
            probs?.Dispose();
            model.zero_grad();
        }
    }
}
