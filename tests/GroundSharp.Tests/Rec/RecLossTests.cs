using GroundSharp.Rec;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Rec;

/// <summary>Each loss term against a direct evaluation of the paper's formula with plain loops over doubles.</summary>
public class RecLossTests
{
    // Three images with two anchors each and three texts, unit vectors in 3-D (hand-picked, then normalised).
    private static readonly double[][][] AnchorData =
    [
        [[1, 0, 0], [0.6, 0.8, 0]],
        [[0, 1, 0], [0, 0.6, 0.8]],
        [[0.5, 0.5, 0.7071], [-1, 0, 0]],
    ];
    private static readonly double[][] TextData = [[0.8, 0.6, 0], [0.1, 0.9, 0.4], [0, 0.2, 1]];

    private static double[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => x / n).ToArray(); }
    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();
    private static double[][][] Anchors => AnchorData.Select(img => img.Select(Unit).ToArray()).ToArray();
    private static double[][] Texts => TextData.Select(Unit).ToArray();

    private static Tensor AnchorTensor(ScalarType dtype = ScalarType.Float32) => tensor(Anchors.SelectMany(i => i.SelectMany(a => a)).ToArray(), [3, 2, 3]).to_type(dtype);
    private static Tensor TextTensor(ScalarType dtype = ScalarType.Float32) => tensor(Texts.SelectMany(t => t).ToArray(), [3, 3]).to_type(dtype);

    /// <summary>Per text, the index of its best-matching anchor in its own image.</summary>
    private static int[] Positives() => Enumerable.Range(0, 3)
        .Select(i => Anchors[i][0].Length > 0 && Dot(Anchors[i][0], Texts[i]) >= Dot(Anchors[i][1], Texts[i]) ? 0 : 1).ToArray();

    private static double[,] DirectS()
    {
        var p = Positives();
        var s = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                s[i, j] = Dot(Anchors[i][p[i]], Texts[j]);
        return s;
    }

    [Fact]
    public void ContrastiveMatchesEquation9()
    {
        const double tau = 0.1;
        double expected = 0;
        var p = Positives();
        for (int i = 0; i < 3; i++)
        {
            double numerator = Math.Exp(Dot(Anchors[i][p[i]], Texts[i]) / tau);
            double denominator = numerator; // n = 0 of the own image; its other anchors are excluded
            for (int j = 0; j < 3; j++)
                if (j != i)
                    for (int n = 0; n < 2; n++)
                        denominator += Math.Exp(Dot(Anchors[j][n], Texts[i]) / tau);
            expected += -Math.Log(numerator / denominator);
        }
        expected /= 3;

        using var anchors = AnchorTensor(ScalarType.Float64);
        using var texts = TextTensor(ScalarType.Float64);
        var (loss, positive) = RecLoss.Contrastive(anchors, texts, tau);
        Assert.Equal(expected, loss.item<double>(), 10);
        Assert.Equal(p.Select(x => (long)x).ToArray(), positive.data<long>().ToArray());
        loss.Dispose();
        positive.Dispose();
    }

    [Fact]
    public void RegularisationMatchesEquation6OnAHandComputedMatrix()
    {
        // Pair (0,1): |(0.9-0.1)-(0.8-0.3)| + |(0.9-0.3)-(0.8-0.1)| - 0.1 = 0.3 + 0.1 - 0.1 = 0.3; (1,0) is the same.
        using var s = tensor(new double[] { 0.9, 0.1, 0.3, 0.8 }, [2, 2]);
        using var loss = RecLoss.Regularisation(s, 0.1);
        Assert.Equal(0.3, loss.item<double>(), 12);
        using var single = RecLoss.Regularisation(tensor(new double[] { 0.5 }, [1, 1]), 0.1);
        Assert.Equal(0.0, single.item<double>());
    }

    [Fact]
    public void RegularisationMatchesEquation6OnMatchedPairs()
    {
        const double omega = 0.05;
        var s = DirectS();
        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                if (i == j) continue;
                sum += Math.Abs((s[i, i] - s[i, j]) - (s[j, j] - s[j, i])) + Math.Abs((s[i, i] - s[j, i]) - (s[j, j] - s[i, j])) - omega;
                pairs++;
            }

        using var anchors = AnchorTensor(ScalarType.Float64);
        using var texts = TextTensor(ScalarType.Float64);
        using var index = tensor(Positives().Select(x => (long)x).ToArray());
        using var matched = RecLoss.MatchedAnchors(anchors, index);
        using var sTensor = matched.matmul(texts.t());
        using var loss = RecLoss.Regularisation(sTensor, omega);
        Assert.Equal(sum / pairs, loss.item<double>(), 12);
    }

    [Fact]
    public void FalseNegativeSuppressionMatchesEquation7()
    {
        var s = DirectS();
        var p = Positives();
        double sum = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                double wa = Dot(Anchors[i][p[i]], Anchors[j][p[j]]);
                double wt = Dot(Texts[i], Texts[j]);
                sum += Math.Abs(s[i, j] - 0.5 * (wa + wt));
            }

        using var anchors = AnchorTensor(ScalarType.Float64);
        using var texts = TextTensor(ScalarType.Float64);
        using var index = tensor(p.Select(x => (long)x).ToArray());
        using var matched = RecLoss.MatchedAnchors(anchors, index);
        using var sTensor = matched.matmul(texts.t());
        using var loss = RecLoss.FalseNegativeSuppression(sTensor, matched, texts, detachTarget: true);
        Assert.Equal(sum / 9, loss.item<double>(), 12);
    }

    [Fact]
    public void TotalIsEquation8AndTheSwitchesRemoveTerms()
    {
        using var anchors = AnchorTensor();
        using var texts = TextTensor();
        using var full = new RecLoss(new RecLossConfig { Temperature = 0.2, Margin = 0.05, InitialLambda = 0.5, InitialLambdaPrime = 2.0 });
        using (var t = full.Compute(anchors, texts))
        {
            double expected = t.Contrastive.item<float>() + 0.5 * t.Regularisation.item<float>() + 2.0 * t.FalseNegativeSuppression.item<float>();
            Assert.Equal(0.0, t.WeightPrior.item<float>()); // the prior is zero at the initial weights
            Assert.Equal(expected, t.Total.item<float>(), 5);
            Assert.Equal(0.5, t.Lambda, 6);
            Assert.Equal(2.0, t.LambdaPrime, 6);
        }
        using var baseline = new RecLoss(new RecLossConfig { Temperature = 0.2, UseRegularisation = false, UseFalseNegativeSuppression = false });
        using (var t = baseline.Compute(anchors, texts))
            Assert.Equal(t.Contrastive.item<float>(), t.Total.item<float>());
        using var noFns = new RecLoss(new RecLossConfig { Temperature = 0.2, UseFalseNegativeSuppression = false });
        using (var t = noFns.Compute(anchors, texts))
            Assert.Equal(t.Contrastive.item<float>() + t.Regularisation.item<float>(), t.Total.item<float>(), 5);
    }

    [Fact]
    public void LambdasReceiveGradientsAndChangeUnderTheOptimiser()
    {
        using var anchors = AnchorTensor();
        using var texts = TextTensor();
        using var loss = new RecLoss(new RecLossConfig { Margin = 0.0 });
        using var optimizer = optim.Adam(loss.parameters(), lr: 0.05);
        double lambda0 = loss.Lambda, lambdaPrime0 = loss.LambdaPrime;
        for (int step = 0; step < 5; step++)
        {
            optimizer.zero_grad();
            using var terms = loss.Compute(anchors, texts);
            terms.Total.backward();
            Assert.NotNull(loss.log_lambda.grad);
            Assert.NotEqual(0f, loss.log_lambda.grad!.item<float>());
            Assert.NotEqual(0f, loss.log_lambda_prime.grad!.item<float>());
            optimizer.step();
        }
        Assert.NotEqual(lambda0, loss.Lambda);
        Assert.NotEqual(lambdaPrime0, loss.LambdaPrime);
    }

    [Fact]
    public void ThePriorStopsLambdaFromCollapsingToZero()
    {
        // With a fixed positive L_reg, minimising λ·L + κ(ln λ)² over ρ = ln λ settles where e^ρ·L + 2κρ = 0.
        using var anchors = AnchorTensor();
        using var texts = TextTensor();
        using var loss = new RecLoss(new RecLossConfig { Margin = -1.0, UseFalseNegativeSuppression = false, WeightPriorStrength = 1.0 });
        double reg;
        using (var t = loss.Compute(anchors, texts)) reg = t.Regularisation.item<float>();
        Assert.True(reg > 0);
        double rho = 0;
        for (int i = 0; i < 50; i++) rho -= (Math.Exp(rho) * reg + 2 * rho) / (Math.Exp(rho) * reg + 2);

        using var optimizer = optim.SGD([loss.log_lambda], 0.2);
        for (int step = 0; step < 200; step++)
        {
            optimizer.zero_grad();
            using var terms = loss.Compute(anchors, texts);
            terms.Total.backward();
            optimizer.step();
        }
        Assert.Equal(Math.Exp(rho), loss.Lambda, 3);
        Assert.True(loss.Lambda > 0.1);
    }

    [Fact]
    public void SuppressionTargetIsDetachedUnlessAskedOtherwise()
    {
        using var anchors = AnchorTensor().requires_grad_(true);
        using var texts = TextTensor();
        using var index = tensor(new long[] { 0, 0, 0 });
        foreach (bool detach in new[] { true, false })
        {
            using var matched = RecLoss.MatchedAnchors(anchors, index);
            using var s = tensor(new float[9], [3, 3]);
            using var loss = RecLoss.FalseNegativeSuppression(s, matched, texts, detach);
            Assert.Equal(!detach, loss.requires_grad);
        }
    }
}
