package dev.loraone.core.optim;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import java.util.List;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Global-norm gradient clipping over every pair, as {@code torch.nn.utils.clip_grad_norm_}:
 * {@code total = sqrt(sum over all A and B grads of g^2)}; if {@code max / (total + 1e-6) < 1},
 * every grad is multiplied by that coefficient.
 */
public final class GradClip {
  /** torch's guard in {@code clip_coef = max_norm / (total_norm + 1e-6)}. */
  public static final double EPS = 1e-6;

  private GradClip() {}

  /** The L2 norm of all grads taken together. */
  public static double globalNorm(List<LoraPair> grads) {
    double sum = 0;
    for (LoraPair g : grads) sum += Matrices.sumOfSquares(g.a()) + Matrices.sumOfSquares(g.b());
    return Math.sqrt(sum);
  }

  /**
   * Scales {@code grads} in place so their global norm is at most about {@code maxNorm}.
   *
   * @return the global norm before clipping
   */
  public static double clipGlobalNorm(List<LoraPair> grads, double maxNorm) {
    if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm=" + maxNorm + " must be > 0");
    double total = globalNorm(grads);
    double coef = maxNorm / (total + EPS);
    if (coef < 1.0) {
      for (LoraPair g : grads) {
        CommonOps_DDRM.scale(coef, g.a());
        CommonOps_DDRM.scale(coef, g.b());
      }
    }
    return total;
  }

  /**
   * Clips adapter grads and dense grads (e.g. a task head) together by their joint L2 norm, as
   * {@code torch.nn.utils.clip_grad_norm_} does over all trainable parameters.
   *
   * @return the joint norm before clipping
   */
  public static double clipGlobalNorm(List<LoraPair> pairs, List<org.ejml.data.DMatrixRMaj> dense, double maxNorm) {
    if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm=" + maxNorm + " must be > 0");
    double sum = 0;
    for (LoraPair g : pairs) sum += Matrices.sumOfSquares(g.a()) + Matrices.sumOfSquares(g.b());
    for (org.ejml.data.DMatrixRMaj d : dense) sum += Matrices.sumOfSquares(d);
    double total = Math.sqrt(sum);
    double coef = maxNorm / (total + EPS);
    if (coef < 1.0) {
      for (LoraPair g : pairs) {
        CommonOps_DDRM.scale(coef, g.a());
        CommonOps_DDRM.scale(coef, g.b());
      }
      for (org.ejml.data.DMatrixRMaj d : dense) CommonOps_DDRM.scale(coef, d);
    }
    return total;
  }
}
