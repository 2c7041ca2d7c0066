using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

#pragma warning disable IDE1006, CS8618

public sealed record RecLossConfig
{
    /// <summary>τ of Eq. 9 (the paper gives no value).</summary>
    public double Temperature { get; init; } = 0.07;
    /// <summary>ω of Eq. 6 (the paper gives no value).</summary>
    public double Margin { get; init; } = 0.0;
    /// <summary>Adds λ·L_reg (the paper's "E").</summary>
    public bool UseRegularisation { get; init; } = true;
    /// <summary>Adds λ'·L_fns (the paper's "F").</summary>
    public bool UseFalseNegativeSuppression { get; init; } = true;
    /// <summary>λ and λ' at the start of training.</summary>
    public double InitialLambda { get; init; } = 1.0;
    public double InitialLambdaPrime { get; init; } = 1.0;
    /// <summary>κ of the log-normal prior κ·(ln λ − ln λ₀)² that keeps the learnable weights from running to 0 or ∞.</summary>
    public double WeightPriorStrength { get; init; } = 1.0;
    /// <summary>Treat ½(Wᵃ + Wᵗ) of Eq. 7 as a fixed soft target (no gradient through it).</summary>
    public bool DetachSuppressionTarget { get; init; } = true;

    public RecLossConfig Validate(string source = "loss config")
    {
        void Require(bool ok, string what) { if (!ok) throw new GroundSharpException($"{source}: {what}"); }
        Require(Temperature > 0, $"temperature ({Temperature}) must be positive");
        Require(InitialLambda > 0 && InitialLambdaPrime > 0, "initial_lambda and initial_lambda_prime must be positive");
        Require(WeightPriorStrength > 0, $"weight_prior_strength ({WeightPriorStrength}) must be positive: without it learnable weights collapse");
        Require(double.IsFinite(Margin), "margin must be finite");
        return this;
    }
}

/// <summary>The loss of one batch. Every tensor is a scalar; the caller disposes them.</summary>
public sealed class RecLossTerms : IDisposable
{
    public required Tensor Total { get; init; }
    public required Tensor Contrastive { get; init; }
    /// <summary>L_reg (Eq. 6) whether or not it is in the total.</summary>
    public required Tensor Regularisation { get; init; }
    /// <summary>L_fns (Eq. 7) whether or not it is in the total.</summary>
    public required Tensor FalseNegativeSuppression { get; init; }
    /// <summary>κ·(ln λ − ln λ₀)² + κ·(ln λ' − ln λ'₀)² for the enabled terms.</summary>
    public required Tensor WeightPrior { get; init; }
    public required double Lambda { get; init; }
    public required double LambdaPrime { get; init; }
    /// <summary>(B) the index of each text's best-matching anchor in its own image.</summary>
    public required Tensor PositiveIndex { get; init; }

    public void Dispose()
    {
        Total.Dispose();
        Contrastive.Dispose();
        Regularisation.Dispose();
        FalseNegativeSuppression.Dispose();
        WeightPrior.Dispose();
        PositiveIndex.Dispose();
    }
}

/// <summary>
/// The training objective, Eq. 8: L = L_con + λ·L_reg + λ'·L_fns, with λ = exp(ρ), λ' = exp(ρ') learnable.
/// The authors' code builds λ and λ' as new tensors in every forward pass, so they never change; here they are
/// parameters of this module (saved with the model). Trained jointly with the loss they weight, such a factor
/// would simply shrink to 0 (or grow without bound where a term is negative, as Eq. 6 can be), so the total also
/// holds a log-normal prior κ·(ρ − ln λ₀)²: λ moves to balance the term's pull against the prior and stays
/// positive and finite. See docs/rec.md.
/// </summary>
public sealed class RecLoss : nn.Module
{
    public readonly Parameter log_lambda;
    public readonly Parameter log_lambda_prime;

    public RecLossConfig Config { get; }

    public RecLoss(RecLossConfig config) : base(nameof(RecLoss))
    {
        Config = config.Validate();
        log_lambda = new Parameter(tensor(Math.Log(config.InitialLambda), ScalarType.Float32));
        log_lambda_prime = new Parameter(tensor(Math.Log(config.InitialLambdaPrime), ScalarType.Float32));
        RegisterComponents();
    }

    public double Lambda => Math.Exp(log_lambda.item<float>());
    public double LambdaPrime => Math.Exp(log_lambda_prime.item<float>());

    /// <param name="anchors">(B, K, E) L2-normalised anchor embeddings, K anchors per image, each image conditioned on its own
    /// text; or (B, B, K, E) with [t, j] = image j's anchors conditioned on text t (query conditioning).</param>
    /// <param name="texts">(B, E) L2-normalised text embeddings; text i belongs to image i.</param>
    public RecLossTerms Compute(Tensor anchors, Tensor texts)
    {
        using var scope = NewDisposeScope();
        var similarities = Similarities(anchors, texts);
        var (contrastive, positive) = Contrastive(similarities, Config.Temperature);
        long b = texts.shape[0];
        var own = anchors.dim() == 4 ? anchors.diagonal(0, 0, 1).permute(2, 0, 1) : anchors;   // (B, K, E): image i under text i
        var matched = MatchedAnchors(own, positive);
        // S_ij = sim(A_i, T_j): image i's matched anchor, under text j where the anchors depend on the text.
        var s = similarities.transpose(0, 1).gather(2, positive.view(b, 1, 1).expand(b, b, 1)).squeeze(2);
        var regularisation = Regularisation(s, Config.Margin);
        var suppression = FalseNegativeSuppression(s, matched, texts, Config.DetachSuppressionTarget);
        var total = contrastive;
        var prior = zeros_like(contrastive);
        double k = Config.WeightPriorStrength;
        if (Config.UseRegularisation)
        {
            total = total.Plus(log_lambda.exp() * regularisation);
            prior = prior.Plus(log_lambda.Minus(Math.Log(Config.InitialLambda)).Squared().MulBy(k));
        }
        if (Config.UseFalseNegativeSuppression)
        {
            total = total.Plus(log_lambda_prime.exp() * suppression);
            prior = prior.Plus(log_lambda_prime.Minus(Math.Log(Config.InitialLambdaPrime)).Squared().MulBy(k));
        }
        total = total.Plus(prior);
        return new RecLossTerms
        {
            Total = total.MoveToOuterDisposeScope(),
            Contrastive = contrastive.MoveToOuterDisposeScope(),
            Regularisation = regularisation.MoveToOuterDisposeScope(),
            FalseNegativeSuppression = suppression.MoveToOuterDisposeScope(),
            WeightPrior = prior.MoveToOuterDisposeScope(),
            Lambda = Lambda,
            LambdaPrime = LambdaPrime,
            PositiveIndex = positive.MoveToOuterDisposeScope(),
        };
    }

    /// <summary>
    /// [i, j, n] = sim(a_n^j, t^i) (B, B, K) from (B, K, E) anchors, or from (B, B, K, E) anchors conditioned per text
    /// ([i, j] = image j under text i).
    /// </summary>
    public static Tensor Similarities(Tensor anchors, Tensor texts)
    {
        long b = texts.shape[0];
        if (anchors.dim() == 4) return (anchors * texts.view(b, 1, 1, -1)).sum(-1);
        long k = anchors.shape[1];
        using var flat = anchors.reshape(b * k, -1);
        return texts.matmul(flat.t()).view(b, b, k);
    }

    /// <summary>Eq. 9 from the anchors: see <see cref="Contrastive(Tensor, double)"/>.</summary>
    public static (Tensor Loss, Tensor PositiveIndex) Contrastive(Tensor anchors, Tensor texts, double temperature)
    {
        using var similarities = Similarities(anchors, texts);
        return Contrastive(similarities, temperature);
    }

    /// <summary>
    /// Eq. 9, averaged over the texts, on the similarities [i, j, n] = sim(a_n^j, t^i): for text i the positive is its
    /// best-matching anchor a₀ⁱ in image i, the negatives are all anchors of the other images; the other anchors of
    /// image i are in neither (the indicator 𝕀¬(i=j ∧ n≠0)). Returns the loss and the positive anchor index per text.
    /// </summary>
    public static (Tensor Loss, Tensor PositiveIndex) Contrastive(Tensor similarities, double temperature)
    {
        using var scope = NewDisposeScope();
        long b = similarities.shape[0], k = similarities.shape[2];
        var own = similarities.diagonal(0, 0, 1).t();                             // (B, K): sim(a_n^i, t^i)
        var positive = own.argmax(1);
        var positiveSim = own.gather(1, positive.unsqueeze(1));                    // (B, 1)
        var sameImage = eye(b, dtype: ScalarType.Bool, device: similarities.device).unsqueeze(-1).expand(b, b, k);
        var negatives = similarities.MaskedFillWith(sameImage, double.NegativeInfinity).view(b, b * k);
        var logits = cat([positiveSim, negatives], 1).DivBy(temperature);
        var loss = -logits.log_softmax(1).select(1, 0).mean();
        return (loss.MoveToOuterDisposeScope(), positive.MoveToOuterDisposeScope());
    }

    /// <summary>(B, E): anchor <paramref name="index"/>[i] of image i.</summary>
    public static Tensor MatchedAnchors(Tensor anchors, Tensor index)
    {
        using var gatherIndex = index.view(-1, 1, 1).expand(-1, 1, anchors.shape[2]);
        using var picked = anchors.gather(1, gatherIndex);
        return picked.squeeze(1);
    }

    /// <summary>
    /// Eq. 6 averaged over ordered pairs i ≠ j of matched anchor-text pairs, with S_ij = sim(A_i, T_j):
    /// L1(S_ii − S_ij, S_jj − S_ji) + L1(S_ii − S_ji, S_jj − S_ij) − ω. As in the paper, nothing clamps it
    /// (it can be negative; ω shifts its value, not its gradient). Zero for a batch of one.
    /// </summary>
    public static Tensor Regularisation(Tensor s, double margin)
    {
        using var scope = NewDisposeScope();
        long b = s.shape[0];
        if (b < 2) return zeros(new long[0], dtype: s.dtype, device: s.device).MoveToOuterDisposeScope();
        var diagonal = s.diagonal();
        var sii = diagonal.unsqueeze(1);   // [i, j] → S_ii
        var sjj = diagonal.unsqueeze(0);   // [i, j] → S_jj
        var sji = s.t();
        var pair = ((sii - s) - (sjj - sji)).abs().Plus(((sii - sji) - (sjj - s)).abs()).Minus(margin);
        var offDiagonal = eye(b, dtype: ScalarType.Bool, device: s.device).logical_not();
        var loss = pair.masked_select(offDiagonal).mean();
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Eq. 7 averaged over all B×B entries: |S_ij − ½(Wᵃ_ij + Wᵗ_ij)| with Wᵃ = A·Aᵀ over the matched anchors and
    /// Wᵗ = T·Tᵀ over the texts (cosine similarities, since both are L2-normalised).
    /// </summary>
    public static Tensor FalseNegativeSuppression(Tensor s, Tensor matchedAnchors, Tensor texts, bool detachTarget)
    {
        using var scope = NewDisposeScope();
        var target = matchedAnchors.matmul(matchedAnchors.t()).Plus(texts.matmul(texts.t())).MulBy(0.5);
        if (detachTarget) target = target.detach();
        return (s - target).abs().mean().MoveToOuterDisposeScope();
    }
}
