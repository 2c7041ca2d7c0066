using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GroundSharp.Models;

// Field names below are the PyTorch state-dict names of ALBEF's vit.py; RegisterComponents() uses them as keys.
#pragma warning disable IDE1006, CS8618

/// <summary>Multi-head self-attention with a fused qkv projection (timm / ALBEF ViT).</summary>
public sealed class VitAttention : nn.Module
{
    public readonly Linear qkv;
    public readonly Linear proj;
    private readonly int _heads;
    private readonly double _scale;

    public VitAttention(int dim, int heads) : base(nameof(VitAttention))
    {
        _heads = heads;
        _scale = Math.Pow(dim / heads, -0.5);
        qkv = Layers.Linear(dim, dim * 3, hasBias: true);
        proj = Layers.Linear(dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var parts = qkv.forward(x).reshape(b, n, 3, _heads, c / _heads).permute(2, 0, 3, 1, 4);
        Tensor q = parts[0], k = parts[1], v = parts[2];
        var attn = q.matmul(k.transpose(-2, -1)).MulBy(_scale).softmax(-1);
        var y = attn.matmul(v).transpose(1, 2).reshape(b, n, c);
        return proj.forward(y).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).</summary>
public sealed class VitBlock : nn.Module
{
    public readonly LayerNorm norm1;
    public readonly VitAttention attn;
    public readonly LayerNorm norm2;
    public readonly GeluMlp mlp;

    public VitBlock(int dim, int heads, double mlpRatio) : base(nameof(VitBlock))
    {
        norm1 = nn.LayerNorm(dim, eps: 1e-6);
        attn = new VitAttention(dim, heads);
        norm2 = nn.LayerNorm(dim, eps: 1e-6);
        mlp = new GeluMlp(dim, (int)(dim * mlpRatio));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(attn.Forward(norm1.forward(x)));
        x = x.Plus(mlp.Forward(norm2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>fc1 → exact GELU → fc2: the ViT block's MLP, also the feed-forward block of the REC modules.</summary>
public sealed class GeluMlp : nn.Module
{
    public readonly Linear fc1;
    public readonly Linear fc2;

    public GeluMlp(int dim, int hidden) : base(nameof(GeluMlp))
    {
        fc1 = Layers.Linear(dim, hidden);
        fc2 = Layers.Linear(hidden, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var h = F.gelu(fc1.forward(x));
        return fc2.forward(h);
    }
}

/// <summary>
/// Pixels to patch tokens. ALBEF's: one p×p, stride-p convolution (<c>proj</c>). With <see cref="PatchStem.Conv"/>:
/// <c>stem</c> = log2(p) × (4×4 stride-2 convolution without bias, GroupNorm, GELU), then a 1×1 <c>proj</c> — same
/// grid, but each token sees its patch through a few small receptive fields, which a ViT from scratch needs to tell
/// shapes apart (docs/experiment-amc.md, eighth session).
/// </summary>
public sealed class PatchEmbed : nn.Module
{
    public readonly Sequential? stem;
    public readonly Conv2d proj;

    public PatchEmbed(AlbefConfig c) : base(nameof(PatchEmbed))
    {
        if (c.PatchStem == PatchStem.Conv)
        {
            var layers = new List<nn.Module<Tensor, Tensor>>();
            long cin = 3;
            foreach (int cout in c.ConvStemChannels())
            {
                // 4×4 kernels, padding 1: output i sees inputs 2i−1…2i+2, centred on 2i+½, so after log2(p) layers a token is
                // centred on its own patch (16i+7.5 for p = 16); 3×3 kernels would centre it on the patch's corner, and
                // every map would sit half a patch down-right of its object.
                layers.Add(nn.Conv2d(cin, cout, kernel_size: 4, stride: 2, padding: 1, bias: false));
                layers.Add(nn.GroupNorm((int)System.Numerics.BigInteger.GreatestCommonDivisor(8, cout), cout)); // 8 groups where they divide
                layers.Add(nn.GELU());
                cin = cout;
            }
            stem = nn.Sequential(layers);
            proj = nn.Conv2d(cin, c.VisionWidth, kernel_size: 1);
        }
        else proj = nn.Conv2d(3, c.VisionWidth, kernel_size: c.PatchSize, stride: c.PatchSize);
        RegisterComponents();
    }

    /// <summary>(B,3,H,W) → (B, H/p·W/p, D), patches in row-major order.</summary>
    public Tensor Forward(Tensor x)
    {
        using var s = stem?.forward(x);
        using var y = proj.forward(s ?? x);
        return y.flatten(2).transpose(1, 2);
    }
}

/// <summary>ViT image encoder of ALBEF: patch embedding, [CLS] + learned positions, pre-norm blocks, final LayerNorm.</summary>
public sealed class VisionTransformer : nn.Module
{
    public readonly Parameter cls_token;
    public readonly Parameter pos_embed;
    public readonly PatchEmbed patch_embed;
    public readonly ModuleList<VitBlock> blocks;
    public readonly LayerNorm norm;
    private readonly Dropout _posDrop;

    public VisionTransformer(AlbefConfig c) : base(nameof(VisionTransformer))
    {
        cls_token = new Parameter(zeros(1, 1, c.VisionWidth));
        pos_embed = new Parameter(zeros(1, c.NumPatches + 1, c.VisionWidth));
        patch_embed = new PatchEmbed(c);
        blocks = new ModuleList<VitBlock>();
        for (int i = 0; i < c.VisionDepth; i++) blocks.Add(new VitBlock(c.VisionWidth, c.VisionHeads, c.VisionMlpRatio));
        norm = nn.LayerNorm(c.VisionWidth, eps: 1e-6);
        _posDrop = nn.Dropout(0.0);
        RegisterComponents();
    }

    /// <summary>(B,3,R,R) normalised images → (B, 1+N, D) embeddings; token 0 is [CLS].</summary>
    public Tensor Forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = patch_embed.Forward(images);
        long b = x.shape[0];
        var cls = cls_token.expand(b, -1, -1);
        x = cat(new[] { cls, x }, 1);
        x = _posDrop.forward(x.Plus(pos_embed.narrow(1, 0, x.shape[1])));
        foreach (var blk in blocks) x = blk.Forward(x);
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ALBEF's interpolate_pos_embed: bicubic resize (align_corners false) of the patch-position grid of a
    /// checkpoint's pos_embed (1, 1+n², D) to this model's grid; the [CLS] position is kept as is.
    /// </summary>
    public static Tensor ResizePosEmbed(Tensor posEmbed, int newGrid)
    {
        using var scope = NewDisposeScope();
        long d = posEmbed.shape[2];
        int oldGrid = (int)Math.Round(Math.Sqrt(posEmbed.shape[1] - 1));
        if (oldGrid * oldGrid != posEmbed.shape[1] - 1)
            throw new GroundSharpException($"pos_embed has {posEmbed.shape[1] - 1} patch positions, not a square grid");
        var extra = posEmbed.narrow(1, 0, 1);
        var grid = posEmbed.narrow(1, 1, oldGrid * oldGrid).reshape(-1, oldGrid, oldGrid, d).permute(0, 3, 1, 2);
        var resized = F.interpolate(grid, size: new long[] { newGrid, newGrid }, mode: InterpolationMode.Bicubic, align_corners: false);
        var tokens = resized.permute(0, 2, 3, 1).flatten(1, 2);
        return cat(new[] { extra, tokens }, 1).MoveToOuterDisposeScope();
    }
}
