package dev.loraone.core.optim;

import dev.loraone.core.lora.LoraPair;
import org.ejml.data.DMatrixRMaj;

/**
 * Scaled AdamW ({@code AdamWr} of Zhang and Pilanci 2024, the preconditioned LoRA-One optimizer;
 * reference 2.6 items 2-7), per pair, Gauss-Seidel order:
 *
 * <pre>
 *   gA' = (B^T B + lambda I)^-1 gA          identity if the Cholesky fails      gA':[r,in]
 *   mA  = b1*mA + (1-b1)*gA'                vA = b2*vA + (1-b2)*gA'^2
 *   A  -= stepA * mA / (sqrt(vA) + eps)     then A -= lrA*wd*A
 *   gB' = gB (A_new A_new^T + lambda I)^-1  with A already updated               gB':[out,r]
 *   B  -= stepB * mB / (sqrt(vB) + eps)     then B -= lrB*wd*B
 * </pre>
 * {@code step = lr} without bias correction (the default, as in the reference code), or
 * {@code lr * sqrt(1 - b2^t) / (1 - b1^t)} with it (HF's legacy AdamW convention, which the
 * reference code copies: eps stays outside the correction).
 */
public final class ScaledAdamW extends PairOptimizer {
  public static final String NAME = "scaled-adamw";

  public ScaledAdamW(OptimizerConfig config) {
    super(config);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  protected void update(int index, LoraPair p, LoraPair g, double lrA, double lrB, int t) {
    OptimizerSnapshot.PairMoments st = moments(index, p);
    double correction = 1.0;
    if (config.biasCorrectionOr(false)) {
      correction = Math.sqrt(1 - Math.pow(config.beta2(), t)) / (1 - Math.pow(config.beta1(), t));
    }
    double lambda = config.lambda();
    DMatrixRMaj gA = Preconditioner.left(p.b(), g.a(), lambda).orElseGet(() -> fallback(g.a()));
    AdamRule.apply(p.a(), gA, st.mA(), st.vA(), config.beta1(), config.beta2(), config.eps(), lrA * correction, 1.0);
    AdamRule.decay(p.a(), lrA, config.weightDecay());
    DMatrixRMaj gB = Preconditioner.right(g.b(), p.a(), lambda).orElseGet(() -> fallback(g.b()));
    AdamRule.apply(p.b(), gB, st.mB(), st.vB(), config.beta1(), config.beta2(), config.eps(), lrB * correction, 1.0);
    AdamRule.decay(p.b(), lrB, config.weightDecay());
  }
}
