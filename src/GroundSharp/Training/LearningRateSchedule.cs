namespace GroundSharp.Training;

/// <summary>Linear warm-up from lr/warmup to lr over <see cref="WarmupSteps"/>, then cosine decay to <see cref="MinLr"/> at <see cref="TotalSteps"/>.</summary>
public sealed record LearningRateSchedule(double BaseLr, double MinLr, int WarmupSteps, int TotalSteps)
{
    /// <summary>The learning rate of step <paramref name="step"/> (0-based).</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return BaseLr * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        return MinLr + 0.5 * (BaseLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>ALBEF's distillation weight: alpha, ramped linearly from 0 over the first epoch.</summary>
    public static double Alpha(double alpha, int step, int stepsPerEpoch) =>
        step >= stepsPerEpoch ? alpha : alpha * step / Math.Max(1, stepsPerEpoch);
}
