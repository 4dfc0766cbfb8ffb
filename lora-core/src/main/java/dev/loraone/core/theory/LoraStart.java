package dev.loraone.core.theory;

import dev.loraone.core.linalg.Svd;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Where a LoRA run on the linear task starts: factors A:[d,r], B:[r,k] and the offset that the
 * init adds to the frozen base weight, so the trained weight is {@code W0 + baseOffset + A B}
 * (paper shapes, reference section 1). LoRA-One and plain LoRA leave W0 alone (offset 0); LoRA-GA
 * subtracts {@code A0 B0} so that the model starts unchanged.
 *
 * <p>The named inits follow reference sections 5.1, 5.2(b) and 9.11.
 */
public record LoraStart(DMatrixRMaj a, DMatrixRMaj b, DMatrixRMaj baseOffset) {

  public LoraStart {
    if (a.numCols != b.numRows || baseOffset.numRows != a.numRows || baseOffset.numCols != b.numCols) {
      throw new IllegalArgumentException("shapes do not chain: A " + a.numRows + "x" + a.numCols
          + ", B " + b.numRows + "x" + b.numCols + ", offset " + baseOffset.numRows + "x" + baseOffset.numCols);
    }
  }

  public int rank() {
    return a.numCols;
  }

  /**
   * LoRA-One spectral init (paper, theory form, no sigma_1 normalisation):
   * {@code A = sqrt(gamma) U_r S_r^(1/2)}, {@code B = sqrt(gamma) S_r^(1/2) V_r^T} from the SVD of
   * {@code g = -grad L(W0)}. W0 is not offset, so the sign of g is load-bearing (reference 2.3).
   */
  public static LoraStart spectral(DMatrixRMaj g, int r, double gamma) {
    Svd svd = Svd.exact(g, r);
    DMatrixRMaj a = new DMatrixRMaj(g.numRows, r);
    DMatrixRMaj b = new DMatrixRMaj(r, g.numCols);
    for (int j = 0; j < r; j++) {
      double w = Math.sqrt(gamma * svd.s()[j]);
      for (int i = 0; i < g.numRows; i++) a.set(i, j, w * svd.u().get(i, j));
      for (int i = 0; i < g.numCols; i++) b.set(j, i, w * svd.v().get(i, j));
    }
    return new LoraStart(a, b, new DMatrixRMaj(g.numRows, g.numCols));
  }

  /**
   * LoRA-GA as in the official toy notebook (reference 5.2(b)): SVD of the <em>positive</em>
   * gradient {@code -g}, {@code A = c U[:, :r]}, {@code B = c V[:, r:2r]^T} with
   * {@code c = k^(1/4) / sqrt(stableGamma)}, and the base weight offset by {@code -A B}.
   */
  public static LoraStart loraGa(DMatrixRMaj g, int r, double stableGamma) {
    DMatrixRMaj grad = g.copy();
    CommonOps_DDRM.scale(-1.0, grad);
    Svd svd = Svd.exact(grad, 2 * r);
    double c = Math.pow(g.numCols, 0.25) / Math.sqrt(stableGamma);
    DMatrixRMaj a = new DMatrixRMaj(g.numRows, r);
    DMatrixRMaj b = new DMatrixRMaj(r, g.numCols);
    for (int j = 0; j < r; j++) {
      for (int i = 0; i < g.numRows; i++) a.set(i, j, c * svd.u().get(i, j));
      for (int i = 0; i < g.numCols; i++) b.set(j, i, c * svd.v().get(i, r + j));
    }
    DMatrixRMaj offset = new DMatrixRMaj(g.numRows, g.numCols);
    CommonOps_DDRM.mult(-1.0, a, b, offset);
    return new LoraStart(a, b, offset);
  }

  /** The paper's LoRA init: {@code A ~ N(0, variance)} entrywise, {@code B = 0}, W0 unchanged. */
  public static LoraStart gaussian(int d, int k, int r, double variance, Random rng) {
    DMatrixRMaj a = LinearTask.gaussian(d, r, rng);
    CommonOps_DDRM.scale(Math.sqrt(variance), a);
    return new LoraStart(a, new DMatrixRMaj(r, k), new DMatrixRMaj(d, k));
  }

  /**
   * PEFT's default LoRA init in paper shapes: Kaiming-uniform with a = sqrt(5) on the input side,
   * i.e. {@code A ~ U(-1/sqrt(d), 1/sqrt(d))} entrywise, {@code B = 0}, W0 unchanged
   * (reference 8.1).
   */
  public static LoraStart kaimingUniform(int d, int k, int r, Random rng) {
    DMatrixRMaj a = new DMatrixRMaj(d, r);
    double bound = 1.0 / Math.sqrt(d);
    for (int i = 0; i < a.data.length; i++) a.data[i] = bound * (2.0 * rng.nextDouble() - 1.0);
    return new LoraStart(a, new DMatrixRMaj(r, k), new DMatrixRMaj(d, k));
  }
}
