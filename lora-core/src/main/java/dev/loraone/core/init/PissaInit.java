package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;

/**
 * PiSSA (Meng et al. 2024; PEFT {@code pissa_init}, reference 7 and 9.9): the adapter takes the
 * principal part of W0 and the base keeps the residual.
 *
 * <pre>
 *   W0 ~= U diag(S) Vh  (top r)                  U:[out,r] S:[r] Vh:[r,in]
 *   S' = S / s                                    s = LoRA scaling
 *   B0 = U diag(sqrt S')   B0:[out,r]             A0 = diag(sqrt S') Vh   A0:[r,in]
 *   offset = s * B0 * A0 = U diag(S) Vh           W_res = W0 - offset
 * </pre>
 */
public final class PissaInit implements LoraInitializer {
  public static final String NAME = "pissa";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public InitResult init(InitContext ctx) {
    DMatrixRMaj w0 = ctx.requireWeight(NAME);
    Svd svd = ctx.params().svd().topK(w0, ctx.r());
    double scaling = ctx.scaling().factor();
    double[] d = new double[svd.rank()];
    for (int i = 0; i < d.length; i++) d[i] = Math.sqrt(svd.s()[i] / scaling);
    DMatrixRMaj b = Matrices.scaleColumns(svd.u(), d);
    DMatrixRMaj a = Matrices.scaledTranspose(d, svd.v());
    return InitResult.withOffset(a, b, Matrices.scaled(scaling, Matrices.mult(b, a)));
  }
}
