package dev.loraone.core.linalg;

import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/**
 * Small dense helpers over EJML {@code DMatrixRMaj} shared by the SVD, init and optimizer code.
 * Every method returns a new matrix and leaves its inputs untouched, unless it says otherwise.
 */
public final class Matrices {
  private Matrices() {}

  /**
   * A {@code [rows,cols]} matrix of independent {@code N(0, std^2)} entries, filled row-major from
   * {@link Random#nextGaussian()}, whose algorithm is specified by the JDK, so a seed gives the
   * same matrix on every JVM.
   */
  public static DMatrixRMaj gaussian(int rows, int cols, Random rng, double std) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    double[] d = m.data;
    for (int i = 0; i < rows * cols; i++) d[i] = std * rng.nextGaussian();
    return m;
  }

  /**
   * Throws {@link IllegalArgumentException} naming {@code what} and the first non-finite entry.
   *
   * @return {@code m}, for chaining
   */
  public static DMatrixRMaj requireFinite(DMatrixRMaj m, String what) {
    double[] d = m.data;
    int n = m.numRows * m.numCols;
    for (int i = 0; i < n; i++) {
      if (!Double.isFinite(d[i])) {
        throw new IllegalArgumentException(
            what + " has a non-finite entry " + d[i] + " at (" + i / m.numCols + ", " + i % m.numCols
                + "); all entries must be finite");
      }
    }
    return m;
  }

  /** True when every entry is finite. */
  public static boolean isFinite(DMatrixRMaj m) {
    double[] d = m.data;
    int n = m.numRows * m.numCols;
    for (int i = 0; i < n; i++) {
      if (!Double.isFinite(d[i])) return false;
    }
    return true;
  }

  /** Sum of squared entries. */
  public static double sumOfSquares(DMatrixRMaj m) {
    double[] d = m.data;
    int n = m.numRows * m.numCols;
    double s = 0;
    for (int i = 0; i < n; i++) s += d[i] * d[i];
    return s;
  }

  /** Largest singular value {@code ||m||_2}. */
  public static double spectralNorm(DMatrixRMaj m) {
    return Svd.exact(m, 1).s()[0];
  }

  /**
   * Thin orthonormal basis {@code Q:[m,k]} of the column span of {@code y:[m,k]} ({@code k <= m}),
   * from a Householder QR. Deterministic: the same input gives the same bits.
   */
  public static DMatrixRMaj orthonormalColumns(DMatrixRMaj y) {
    if (y.numCols > y.numRows) {
      throw new IllegalArgumentException(
          "cannot orthonormalise " + y.numCols + " columns in " + y.numRows + " dimensions; need cols <= rows");
    }
    QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(y.numRows, y.numCols);
    if (!qr.decompose(y.copy())) {
      throw new IllegalStateException("QR failed on a " + y.numRows + "x" + y.numCols + " matrix");
    }
    return qr.getQ(null, true);
  }

  /** {@code a * b}. */
  public static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
    return OrderedProducts.mult(a, b); // EJML's bits, faster
  }

  /** {@code a^T * b}. */
  public static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
    return OrderedProducts.multTransA(a, b); // EJML's bits, faster
  }

  /** {@code a * b^T}. */
  public static DMatrixRMaj multTransB(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numRows);
    CommonOps_DDRM.multTransB(a, b, c);
    return c;
  }

  /** {@code a^T}. */
  public static DMatrixRMaj transpose(DMatrixRMaj a) {
    return CommonOps_DDRM.transpose(a, null);
  }

  /** {@code a + b}. */
  public static DMatrixRMaj plus(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, a.numCols);
    CommonOps_DDRM.add(a, b, c);
    return c;
  }

  /** {@code a - b}. */
  public static DMatrixRMaj minus(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, a.numCols);
    CommonOps_DDRM.subtract(a, b, c);
    return c;
  }

  /** {@code alpha * a}. */
  public static DMatrixRMaj scaled(double alpha, DMatrixRMaj a) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, a.numCols);
    CommonOps_DDRM.scale(alpha, a, c);
    return c;
  }

  /**
   * {@code terms[0] + terms[1] + ...}, added left to right. Floating-point addition is not
   * associative, so this fixed order is what makes shard sums reproducible.
   */
  public static DMatrixRMaj sumInOrder(List<DMatrixRMaj> terms) {
    if (terms.isEmpty()) throw new IllegalArgumentException("need at least one term to sum");
    DMatrixRMaj acc = terms.get(0).copy();
    for (int i = 1; i < terms.size(); i++) {
      DMatrixRMaj t = terms.get(i);
      if (t.numRows != acc.numRows || t.numCols != acc.numCols) {
        throw new IllegalArgumentException(
            "term " + i + " is " + t.numRows + "x" + t.numCols + " but term 0 is " + acc.numRows + "x" + acc.numCols);
      }
      CommonOps_DDRM.addEquals(acc, t);
    }
    return acc;
  }

  /** Columns {@code [from, to)} of {@code a}. */
  public static DMatrixRMaj columns(DMatrixRMaj a, int from, int to) {
    return CommonOps_DDRM.extract(a, 0, a.numRows, from, to);
  }

  /** {@code a * diag(d)}: column j scaled by {@code d[j]}. */
  public static DMatrixRMaj scaleColumns(DMatrixRMaj a, double[] d) {
    if (d.length != a.numCols) throw new IllegalArgumentException(d.length + " factors for " + a.numCols + " columns");
    DMatrixRMaj c = a.copy();
    for (int i = 0; i < c.numRows; i++) {
      for (int j = 0; j < c.numCols; j++) c.set(i, j, c.get(i, j) * d[j]);
    }
    return c;
  }

  /** {@code diag(d) * a^T}: the transpose of {@code a} with row j scaled by {@code d[j]}. */
  public static DMatrixRMaj scaledTranspose(double[] d, DMatrixRMaj a) {
    if (d.length != a.numCols) throw new IllegalArgumentException(d.length + " factors for " + a.numCols + " columns");
    DMatrixRMaj c = new DMatrixRMaj(a.numCols, a.numRows);
    for (int i = 0; i < a.numRows; i++) {
      for (int j = 0; j < a.numCols; j++) c.set(j, i, a.get(i, j) * d[j]);
    }
    return c;
  }
}
