package dev.loraone.core.optim;

import dev.loraone.core.lora.LoraPair;

/**
 * AdamW (Loshchilov and Hutter 2019) with the semantics of {@code torch.optim.AdamW}, applied to
 * each factor of each pair independently; the default LoRA-One optimizer (reference 9.6).
 *
 * <pre>
 *   p *= 1 - lr*wd
 *   m  = b1*m + (1-b1)*g          v = b2*v + (1-b2)*g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)     bias correction on (default)
 *   p -= lr * m / (sqrt(v) + eps)                                     bias correction off
 * </pre>
 * with {@code lr = lrA} for {@code A:[r,in]} and {@code lrB = ratio * lrA} for {@code B:[out,r]}.
 */
public final class AdamW extends PairOptimizer {
  public static final String NAME = "adamw";

  public AdamW(OptimizerConfig config) {
    super(config);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  protected void update(int index, LoraPair p, LoraPair g, double lrA, double lrB, int t) {
    OptimizerSnapshot.PairMoments st = moments(index, p);
    boolean bias = config.biasCorrectionOr(true);
    double bc1 = bias ? 1 - Math.pow(config.beta1(), t) : 1;
    double bc2 = bias ? 1 - Math.pow(config.beta2(), t) : 1;
    AdamRule.decay(p.a(), lrA, config.weightDecay());
    AdamRule.apply(
        p.a(),
        g.a(),
        st.mA(),
        st.vA(),
        config.beta1(),
        config.beta2(),
        config.eps(),
        lrA / bc1,
        Math.sqrt(bc2));
    AdamRule.decay(p.b(), lrB, config.weightDecay());
    AdamRule.apply(
        p.b(),
        g.b(),
        st.mB(),
        st.vB(),
        config.beta1(),
        config.beta2(),
        config.eps(),
        lrB / bc1,
        Math.sqrt(bc2));
  }
}
