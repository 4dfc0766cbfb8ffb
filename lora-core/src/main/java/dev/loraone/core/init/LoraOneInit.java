package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;

/**
 * LoRA-One spectral init, current version (Zhang, Liu, Chen, ICML 2025; official code
 * {@code reinit_lora_modules}, reference 2.3 and 9.3-9.5).
 *
 * <pre>
 *   G  = -grad                                  G:[out,in], grad = averaged dL/dW
 *   G ~= U diag(S) V^T  (top r, descending)     U:[out,r] S:[r] V:[in,r]
 *   B0 = U diag(sqrt S) / sqrt(S[0] * gamma)    B0:[out,r]
 *   A0 = diag(sqrt S) V^T / sqrt(S[0] * gamma)  A0:[r,in]
 *   W0 unchanged
 * </pre>
 *
 * So {@code s*B0*A0 = -(s / (gamma * sigma1)) * P_r(grad)}: one step of rank-r truncated gradient
 * descent whose spectral norm is exactly {@code s / gamma} ({@code alpha/(sqrt(r)*gamma)} with
 * rsLoRA, 0.0442 for alpha 16, r 8, gamma 128). The sign matters: W0 is not offset, so an SVD of
 * +grad would start with an ascent step. The init is invariant to positive scaling of the
 * gradient, so a sum over batches serves as well as the mean.
 */
public final class LoraOneInit implements LoraInitializer {
  public static final String NAME = "lora-one";
  /** {@code init.stable_gamma} of the current official config and README (reference 2.3). */
  public static final double DEFAULT_STABLE_GAMMA = 128.0;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public InitResult init(InitContext ctx) {
    DMatrixRMaj negGrad = Matrices.scaled(-1.0, ctx.requireGradient(NAME));
    Svd svd = ctx.params().svd().topK(negGrad, ctx.r());
    return fromSvd(ctx.layer(), svd, ctx.params().gammaOr(DEFAULT_STABLE_GAMMA));
  }

  /**
   * The init from the top-r SVD of {@code -grad} (e.g. the result of distributed
   * {@link dev.loraone.core.svd.RandomizedSvdRounds} run against the negated gradient). The
   * adapter rank is the number of triplets in {@code svdOfNegativeGradient}.
   */
  public static InitResult fromSvd(String layer, Svd svdOfNegativeGradient, double stableGamma) {
    if (!Double.isFinite(stableGamma) || stableGamma <= 0) {
      throw new IllegalArgumentException("stable_gamma=" + stableGamma + " must be finite and > 0");
    }
    double[] s = svdOfNegativeGradient.s();
    double sigma1 = s[0];
    if (!(sigma1 > 0) || !Double.isFinite(sigma1)) {
      throw new IllegalArgumentException("gradient of layer '" + layer + "' has top singular value " + sigma1
          + "; LoRA-One needs a finite, nonzero gradient");
    }
    double norm = Math.sqrt(sigma1 * stableGamma);
    double[] d = new double[s.length];
    for (int i = 0; i < s.length; i++) d[i] = Math.sqrt(s[i]) / norm;
    DMatrixRMaj b = Matrices.scaleColumns(svdOfNegativeGradient.u(), d);
    DMatrixRMaj a = Matrices.scaledTranspose(d, svdOfNegativeGradient.v());
    return InitResult.unchangedBase(a, b);
  }

  /** The init from the top-r SVD of {@code +grad}: flips U, since {@code -G = (-U) S V^T}. */
  public static InitResult fromGradientSvd(String layer, Svd svdOfGradient, double stableGamma) {
    Svd neg = new Svd(Matrices.scaled(-1.0, svdOfGradient.u()), svdOfGradient.s(), svdOfGradient.v());
    return fromSvd(layer, neg, stableGamma);
  }
}
