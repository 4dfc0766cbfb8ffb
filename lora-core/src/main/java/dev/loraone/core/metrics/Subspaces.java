package dev.loraone.core.metrics;

import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/**
 * Subspace comparisons used to judge inits and sketches.
 *
 * <ul>
 *   <li>principal angles between span(X) and span(Y): the cosines are the singular values of
 *       {@code Qx^T Qy} (Bjorck and Golub 1973);
 *   <li>subspace similarity {@code ||Qx^T Qy||_F^2 / k}: the mean squared cosine, 1 when equal
 *       (INIT-SVD-FINDINGS.md, "simU/simV");
 *   <li>the paper's alignment angle {@code ||U_perp^T U_A||_op} (LoRA-One, section 3).
 * </ul>
 */
public final class Subspaces {
  private Subspaces() {}

  /** Orthonormal basis (thin Q) of the column span of {@code x}. */
  public static DMatrixRMaj orthonormalBasis(DMatrixRMaj x) {
    QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(x.numRows, x.numCols);
    if (!qr.decompose(x.copy())) {
      throw new IllegalStateException("QR failed on a " + x.numRows + "x" + x.numCols + " matrix");
    }
    return qr.getQ(null, true);
  }

  /** Cosines of the principal angles between the column spans of x and y, descending. */
  public static double[] principalCosines(DMatrixRMaj x, DMatrixRMaj y) {
    requireSameRows(x, y);
    DMatrixRMaj c = new DMatrixRMaj(x.numCols, y.numCols);
    CommonOps_DDRM.multTransA(orthonormalBasis(x), orthonormalBasis(y), c);
    double[] s = Svd.exact(c, Math.min(c.numRows, c.numCols)).s();
    for (int i = 0; i < s.length; i++) s[i] = Math.min(1.0, s[i]);
    return s;
  }

  /** Principal angles in radians, ascending. */
  public static double[] principalAngles(DMatrixRMaj x, DMatrixRMaj y) {
    double[] c = principalCosines(x, y);
    double[] a = new double[c.length];
    for (int i = 0; i < c.length; i++) a[i] = Math.acos(c[i]);
    return a;
  }

  /** {@code ||Qx^T Qy||_F^2 / min(kx, ky)}: 1 for identical spans, 0 for orthogonal ones. */
  public static double similarity(DMatrixRMaj x, DMatrixRMaj y) {
    double[] c = principalCosines(x, y);
    double sum = 0;
    for (double v : c) sum += v * v;
    return sum / c.length;
  }

  /**
   * Largest singular value of {@code Uperp^T Y}: the sine of the largest principal angle between
   * span(Y) and span(U) when U is orthonormal. {@code uperp} must have orthonormal columns.
   */
  public static double alignmentAngle(DMatrixRMaj uperp, DMatrixRMaj y) {
    requireSameRows(uperp, y);
    DMatrixRMaj c = new DMatrixRMaj(uperp.numCols, y.numCols);
    CommonOps_DDRM.multTransA(uperp, orthonormalBasis(y), c);
    return Svd.exact(c, 1).s()[0];
  }

  /** {@code ||approx - exact||_F / ||exact||_F}. */
  public static double relativeError(DMatrixRMaj approx, DMatrixRMaj exact) {
    DMatrixRMaj d = new DMatrixRMaj(exact.numRows, exact.numCols);
    CommonOps_DDRM.subtract(approx, exact, d);
    return NormOps_DDRM.normF(d) / NormOps_DDRM.normF(exact);
  }

  private static void requireSameRows(DMatrixRMaj x, DMatrixRMaj y) {
    if (x.numRows != y.numRows) {
      throw new IllegalArgumentException(
          "subspaces live in different spaces: " + x.numRows + " rows vs " + y.numRows + " rows");
    }
  }
}
