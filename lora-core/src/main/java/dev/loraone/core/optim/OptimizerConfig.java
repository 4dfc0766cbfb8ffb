package dev.loraone.core.optim;

/**
 * Hyperparameters shared by the LoRA optimizers. Defaults follow HF/torch AdamW and the LoRA-One
 * recipe (reference 2.5, 2.6, 9.6): betas (0.9, 0.999), eps 1e-8, no weight decay, LoRA+ ratio 1,
 * lambda 1e-6, constant schedule, no clipping (set {@code maxGradNorm = 1.0} for the HF default).
 *
 * @param lr base learning rate of the A factors, finite and &gt;= 0
 * @param beta1 first-moment decay, in [0, 1)
 * @param beta2 second-moment decay, in [0, 1)
 * @param eps denominator guard, finite and &gt;= 0
 * @param weightDecay decoupled weight decay, finite and &gt;= 0
 * @param biasCorrection ON, OFF, or AUTO = the optimizer's default (AdamW on, ScaledAdamW off)
 * @param loraPlusRatio {@code lr_B / lr_A} (LoRA+, Hayou et al. 2024), finite and &gt; 0
 * @param maxGradNorm global-norm clip over all pairs; {@code +Infinity} turns clipping off
 * @param lambda preconditioner regulariser in {@code (B^T B + lambda I)^-1}, finite and &gt; 0
 * @param schedule learning-rate multiplier by step
 */
public record OptimizerConfig(double lr, double beta1, double beta2, double eps, double weightDecay,
    BiasCorrection biasCorrection, double loraPlusRatio, double maxGradNorm, double lambda, Schedule schedule) {

  /** Whether Adam divides the moments by {@code 1 - beta^t}. */
  public enum BiasCorrection { AUTO, ON, OFF }

  public OptimizerConfig {
    if (!Double.isFinite(lr) || lr < 0) throw new IllegalArgumentException("lr=" + lr + " must be finite and >= 0");
    if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1=" + beta1 + " must be in [0, 1)");
    if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2=" + beta2 + " must be in [0, 1)");
    if (!Double.isFinite(eps) || eps < 0) throw new IllegalArgumentException("eps=" + eps + " must be finite and >= 0");
    if (!Double.isFinite(weightDecay) || weightDecay < 0) {
      throw new IllegalArgumentException("weightDecay=" + weightDecay + " must be finite and >= 0");
    }
    if (biasCorrection == null) biasCorrection = BiasCorrection.AUTO;
    if (!Double.isFinite(loraPlusRatio) || loraPlusRatio <= 0) {
      throw new IllegalArgumentException("loraPlusRatio=" + loraPlusRatio + " must be finite and > 0");
    }
    if (!(maxGradNorm > 0)) {
      throw new IllegalArgumentException("maxGradNorm=" + maxGradNorm + " must be > 0 (Infinity turns clipping off)");
    }
    if (!Double.isFinite(lambda) || lambda <= 0) {
      throw new IllegalArgumentException("lambda=" + lambda + " must be finite and > 0 (preconditioner regulariser)");
    }
    if (schedule == null) schedule = Schedule.constant();
  }

  /** All defaults at learning rate {@code lr}. */
  public static OptimizerConfig defaults(double lr) {
    return new OptimizerConfig(lr, 0.9, 0.999, 1e-8, 0.0, BiasCorrection.AUTO, 1.0, Double.POSITIVE_INFINITY, 1e-6,
        Schedule.constant());
  }

  /** The bias-correction switch, with AUTO resolved to {@code optimizerDefault}. */
  public boolean biasCorrectionOr(boolean optimizerDefault) {
    return biasCorrection == BiasCorrection.AUTO ? optimizerDefault : biasCorrection == BiasCorrection.ON;
  }

  public OptimizerConfig withLr(double v) {
    return new OptimizerConfig(
        v,
        beta1,
        beta2,
        eps,
        weightDecay,
        biasCorrection,
        loraPlusRatio,
        maxGradNorm,
        lambda,
        schedule);
  }

  public OptimizerConfig withBetas(double b1, double b2) {
    return new OptimizerConfig(
        lr, b1, b2, eps, weightDecay, biasCorrection, loraPlusRatio, maxGradNorm, lambda, schedule);
  }

  public OptimizerConfig withEps(double v) {
    return new OptimizerConfig(
        lr,
        beta1,
        beta2,
        v,
        weightDecay,
        biasCorrection,
        loraPlusRatio,
        maxGradNorm,
        lambda,
        schedule);
  }

  public OptimizerConfig withWeightDecay(double v) {
    return new OptimizerConfig(lr, beta1, beta2, eps, v, biasCorrection, loraPlusRatio, maxGradNorm, lambda, schedule);
  }

  public OptimizerConfig withBiasCorrection(boolean on) {
    return new OptimizerConfig(lr, beta1, beta2, eps, weightDecay, on ? BiasCorrection.ON : BiasCorrection.OFF,
        loraPlusRatio, maxGradNorm, lambda, schedule);
  }

  public OptimizerConfig withLoraPlusRatio(double v) {
    return new OptimizerConfig(lr, beta1, beta2, eps, weightDecay, biasCorrection, v, maxGradNorm, lambda, schedule);
  }

  public OptimizerConfig withMaxGradNorm(double v) {
    return new OptimizerConfig(lr, beta1, beta2, eps, weightDecay, biasCorrection, loraPlusRatio, v, lambda, schedule);
  }

  public OptimizerConfig withLambda(double v) {
    return new OptimizerConfig(
        lr,
        beta1,
        beta2,
        eps,
        weightDecay,
        biasCorrection,
        loraPlusRatio,
        maxGradNorm,
        v,
        schedule);
  }

  public OptimizerConfig withSchedule(Schedule v) {
    return new OptimizerConfig(
        lr, beta1, beta2, eps, weightDecay, biasCorrection, loraPlusRatio, maxGradNorm, lambda, v);
  }
}
