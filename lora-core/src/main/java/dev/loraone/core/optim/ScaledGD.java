package dev.loraone.core.optim;

import dev.loraone.core.lora.LoraPair;
import org.ejml.data.DMatrixRMaj;

/**
 * Scaled gradient descent ({@code SGDr} of Zhang and Pilanci 2024, reference section 3; the
 * paper's preconditioned GD, eq. 9, in PEFT shapes). Jacobi order: both preconditioned grads come
 * from the old factors.
 *
 * <pre>
 *   gA' = (B^T B + lambda I)^-1 gA     gB' = gB (A A^T + lambda I)^-1     (old A, B; identity if Cholesky fails)
 *   A  -= lrA*wd*A                     B  -= lrB*wd*B
 *   A  -= lrA * gA'                    B  -= lrB * gB'
 * </pre>
 * Shapes {@code A, gA:[r,in]  B, gB:[out,r]}. Stateless apart from the step count.
 */
public final class ScaledGD extends PairOptimizer {
  public static final String NAME = "scaled-gd";

  public ScaledGD(OptimizerConfig config) {
    super(config);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  protected void update(int index, LoraPair p, LoraPair g, double lrA, double lrB, int t) {
    double lambda = config.lambda();
    DMatrixRMaj gA = Preconditioner.left(p.b(), g.a(), lambda).orElseGet(() -> fallback(g.a()));
    DMatrixRMaj gB = Preconditioner.right(g.b(), p.a(), lambda).orElseGet(() -> fallback(g.b()));
    AdamRule.decay(p.a(), lrA, config.weightDecay());
    AdamRule.decay(p.b(), lrB, config.weightDecay());
    descend(p.a(), gA, lrA);
    descend(p.b(), gB, lrB);
  }

  private static void descend(DMatrixRMaj p, DMatrixRMaj g, double lr) {
    double[] pd = p.data, gd = g.data;
    for (int i = 0; i < p.numRows * p.numCols; i++) pd[i] -= lr * gd[i];
  }
}
