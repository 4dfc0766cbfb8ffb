package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;

/**
 * LoRA-GA, reference-repo form (Wang, Yu, Li 2024; {@code lora_ga_init} with
 * {@code direction=ArB2r}, {@code scale=stable}; reference 6 and 9.8). Not PEFT's variant, which
 * also multiplies B by {@code diag(S[r:2r])} and scales only B.
 *
 * <pre>
 *   grad ~= U diag(S) V^T  (top 2r, SVD of +grad)  U:[out,2r] V:[in,2r]
 *   c  = out^(1/4) / sqrt(gamma)                    gamma default 16
 *   A0 = c * V[:, 0:r]^T     A0:[r,in]
 *   B0 = c * U[:, r:2r]      B0:[out,r]
 *   offset = s * B0 * A0     W0 becomes W0 - offset, so the model is unchanged at init
 * </pre>
 *
 * Needs {@code 2r <= min(out, in)}.
 */
public final class LoraGaInit implements LoraInitializer {
  public static final String NAME = "lora-ga";
  /** {@code gamma} default of the LoRA-GA reference repo. */
  public static final double DEFAULT_GAMMA = 16.0;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public InitResult init(InitContext ctx) {
    int r = ctx.r();
    int full = Math.min(ctx.out(), ctx.in());
    if (2 * r > full) {
      throw new IllegalArgumentException(
          "LoRA-GA on layer '"
              + ctx.layer()
              + "' needs 2r="
              + (2 * r)
              + " <= min(out, in)="
              + full
              + "; rank r="
              + r
              + " must be in [1, "
              + full / 2
              + "]");
    }
    DMatrixRMaj grad = ctx.requireGradient(NAME);
    Svd svd = ctx.params().svd().topK(grad, 2 * r);
    double c = Math.pow(ctx.out(), 0.25) / Math.sqrt(ctx.params().gammaOr(DEFAULT_GAMMA));
    DMatrixRMaj a = Matrices.scaled(c, Matrices.transpose(Matrices.columns(svd.v(), 0, r)));
    DMatrixRMaj b = Matrices.scaled(c, Matrices.columns(svd.u(), r, 2 * r));
    return InitResult.withOffset(a, b, Matrices.scaled(ctx.scaling().factor(), Matrices.mult(b, a)));
  }
}
