package dev.loraone.core.linalg;

import java.nio.DoubleBuffer;
import org.ejml.EjmlParameters;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * {@code A B} and {@code A^T B} with EJML's bits, faster: every entry is summed exactly as EJML's
 * {@code mult_reorder} and {@code multTransA_reorder} sum it,
 *
 * <pre>
 *   c_ij = a_i0 b_0j;  then  c_ij = c_ij + a_ik b_kj  for k = 1, 2, ... in order      (A B)
 *   c_ij = a_0i b_0j;  then  c_ij = c_ij + a_ki b_kj  for k = 1, 2, ... in order      (A^T B)
 * </pre>
 *
 * in IEEE double without fused multiply-adds (Java's arithmetic is strict), so the result is
 * bit-identical. What changes is the loop order: two rows of {@code C} at a time, four {@code k}
 * per pass over a row, and {@code A^T B} read along {@code A}'s rows instead of down its columns.
 * The randomized-SVD products of the LoRA-One init ({@code G X}, {@code G^T Q} with
 * {@code G:[out,in]}, {@code X, Q} q = 4r wide) run about 1.5-2x faster. Shapes for which EJML
 * picks another kernel (a column vector, a narrow {@code B}) go to EJML itself.
 */
final class OrderedProducts {
  private OrderedProducts() {}

  /** {@code a * b}, as {@code CommonOps_DDRM.mult}. */
  static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numCols);
    if (a.numCols != b.numRows || !ordered(b.numCols) || a.numRows == 0 || a.numCols == 0) {
      CommonOps_DDRM.mult(a, b, c); // EJML's own kernel (and its shape errors)
    } else {
      mult(DoubleBuffer.wrap(a.data), b.data, c.data, a.numRows, a.numCols, b.numCols);
    }
    return c;
  }

  /** {@code a^T * b}, as {@code CommonOps_DDRM.multTransA}. */
  static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numCols, b.numCols);
    if (a.numRows != b.numRows || !orderedTransA(a.numCols, b.numCols) || a.numRows == 0 || a.numCols == 0) {
      CommonOps_DDRM.multTransA(a, b, c);
    } else {
      multTransA(DoubleBuffer.wrap(a.data), b.data, c.data, a.numRows, a.numCols, b.numCols);
    }
    return c;
  }

  /** Whether EJML's {@code mult} takes its reorder kernel for a {@code b} of {@code bCols} columns: ours runs then. */
  private static boolean ordered(int bCols) {
    return bCols != 1 && bCols >= EjmlParameters.MULT_COLUMN_SWITCH;
  }

  /** Whether EJML's {@code multTransA} takes its reorder kernel: ours runs then. */
  private static boolean orderedTransA(int aCols, int bCols) {
    return bCols != 1 && (aCols >= EjmlParameters.MULT_COLUMN_SWITCH || bCols >= EjmlParameters.MULT_COLUMN_SWITCH);
  }

  /** Rows or columns of a buffer matrix copied to the heap at a time where EJML's own kernel runs. */
  private static final int BLOCK = 64;

  /**
   * {@code a * b} with the bits of {@link #mult(DMatrixRMaj, DMatrixRMaj)} on {@code a}'s entries. Where
   * that takes EJML's kernel (a narrow {@code b}), EJML runs on blocks of {@code a}'s rows copied to the
   * heap: a row of the product depends on that row of {@code a} only.
   */
  static DMatrixRMaj mult(BufferMatrix a, DMatrixRMaj b) {
    if (a.cols() != b.numRows) {
      throw new IllegalArgumentException("cannot multiply " + a.rows() + "x" + a.cols() + " by " + b.numRows + "x"
          + b.numCols);
    }
    DMatrixRMaj c = new DMatrixRMaj(a.rows(), b.numCols);
    if (a.rows() == 0 || a.cols() == 0) {
      return c;
    }
    if (ordered(b.numCols)) {
      mult(a.data(), b.data, c.data, a.rows(), a.cols(), b.numCols);
      return c;
    }
    DMatrixRMaj rows = new DMatrixRMaj(1, a.cols());
    DMatrixRMaj part = new DMatrixRMaj(1, b.numCols);
    for (int from = 0; from < a.rows(); from += BLOCK) {
      int n = Math.min(BLOCK, a.rows() - from);
      rows.reshape(n, a.cols());
      a.data().get(from * a.cols(), rows.data, 0, n * a.cols());
      part.reshape(n, b.numCols);
      CommonOps_DDRM.mult(rows, b, part);
      System.arraycopy(part.data, 0, c.data, from * b.numCols, n * b.numCols);
    }
    return c;
  }

  /**
   * {@code a^T * b} with the bits of {@link #multTransA(DMatrixRMaj, DMatrixRMaj)} on {@code a}'s entries.
   * Where that takes EJML's kernel, EJML runs on blocks of {@code a}'s columns copied to the heap (a row
   * of the product depends on that column only), each block at least as wide as EJML's kernel switch so
   * that it picks the kernel it picks for the whole of {@code a}.
   */
  static DMatrixRMaj multTransA(BufferMatrix a, DMatrixRMaj b) {
    if (a.rows() != b.numRows) {
      throw new IllegalArgumentException("cannot multiply the transpose of " + a.rows() + "x" + a.cols() + " by "
          + b.numRows + "x" + b.numCols);
    }
    DMatrixRMaj c = new DMatrixRMaj(a.cols(), b.numCols);
    if (a.rows() == 0 || a.cols() == 0) {
      return c;
    }
    int m = a.rows();
    int n = a.cols();
    if (orderedTransA(n, b.numCols)) {
      multTransA(a.data(), b.data, c.data, m, n, b.numCols);
      return c;
    }
    int width = Math.max(BLOCK, EjmlParameters.MULT_COLUMN_SWITCH);
    DMatrixRMaj cols = new DMatrixRMaj(1, 1);
    DMatrixRMaj part = new DMatrixRMaj(1, 1);
    for (int from = 0; from < n; ) {
      int w = n - from < 2 * width ? n - from : width; // the last block takes the rest: never narrower than one
      cols.reshape(m, w);
      for (int k = 0; k < m; k++) a.data().get(k * n + from, cols.data, k * w, w);
      part.reshape(w, b.numCols);
      CommonOps_DDRM.multTransA(cols, b, part);
      System.arraycopy(part.data, 0, c.data, from * b.numCols, w * b.numCols);
      from += w;
    }
    return c;
  }

  /** {@code c[m,q] = a[m,n] b[n,q]}, row-major, {@code m, n >= 1}. */
  private static void mult(DoubleBuffer a, double[] b, double[] c, int m, int n, int q) {
    int i = 0;
    for (; i + 1 < m; i += 2) {
      int a0 = i * n;
      int a1 = a0 + n;
      int c0 = i * q;
      int c1 = c0 + q;
      double x0 = a.get(a0);
      double x1 = a.get(a1);
      for (int j = 0; j < q; j++) {
        c[c0 + j] = x0 * b[j];
        c[c1 + j] = x1 * b[j];
      }
      int k = 1;
      for (; k + 3 < n; k += 4) {
        double p0 = a.get(a0 + k);
        double p1 = a.get(a0 + k + 1);
        double p2 = a.get(a0 + k + 2);
        double p3 = a.get(a0 + k + 3);
        double r0 = a.get(a1 + k);
        double r1 = a.get(a1 + k + 1);
        double r2 = a.get(a1 + k + 2);
        double r3 = a.get(a1 + k + 3);
        int b0 = k * q;
        int b1 = b0 + q;
        int b2 = b1 + q;
        int b3 = b2 + q;
        for (int j = 0; j < q; j++) {
          double v0 = b[b0 + j];
          double v1 = b[b1 + j];
          double v2 = b[b2 + j];
          double v3 = b[b3 + j];
          c[c0 + j] = c[c0 + j] + p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3; // left to right: k, k+1, k+2, k+3
          c[c1 + j] = c[c1 + j] + r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3;
        }
      }
      for (; k < n; k++) {
        double p = a.get(a0 + k);
        double r = a.get(a1 + k);
        int bk = k * q;
        for (int j = 0; j < q; j++) {
          c[c0 + j] += p * b[bk + j];
          c[c1 + j] += r * b[bk + j];
        }
      }
    }
    for (; i < m; i++) {
      int a0 = i * n;
      int c0 = i * q;
      double x0 = a.get(a0);
      for (int j = 0; j < q; j++) c[c0 + j] = x0 * b[j];
      for (int k = 1; k < n; k++) {
        double p = a.get(a0 + k);
        int bk = k * q;
        for (int j = 0; j < q; j++) c[c0 + j] += p * b[bk + j];
      }
    }
  }

  /** {@code c[n,q] = a[m,n]^T b[m,q]}, row-major, {@code m, n >= 1}. */
  private static void multTransA(DoubleBuffer a, double[] b, double[] c, int m, int n, int q) {
    int i = 0;
    for (; i + 1 < n; i += 2) {
      int c0 = i * q;
      int c1 = c0 + q;
      double x0 = a.get(i);
      double x1 = a.get(i + 1);
      for (int j = 0; j < q; j++) {
        c[c0 + j] = x0 * b[j];
        c[c1 + j] = x1 * b[j];
      }
      int k = 1;
      for (; k + 3 < m; k += 4) {
        int ak = k * n + i;
        double p0 = a.get(ak);
        double p1 = a.get(ak + n);
        double p2 = a.get(ak + 2 * n);
        double p3 = a.get(ak + 3 * n);
        double r0 = a.get(ak + 1);
        double r1 = a.get(ak + n + 1);
        double r2 = a.get(ak + 2 * n + 1);
        double r3 = a.get(ak + 3 * n + 1);
        int b0 = k * q;
        int b1 = b0 + q;
        int b2 = b1 + q;
        int b3 = b2 + q;
        for (int j = 0; j < q; j++) {
          double v0 = b[b0 + j];
          double v1 = b[b1 + j];
          double v2 = b[b2 + j];
          double v3 = b[b3 + j];
          c[c0 + j] = c[c0 + j] + p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3;
          c[c1 + j] = c[c1 + j] + r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3;
        }
      }
      for (; k < m; k++) {
        double p = a.get(k * n + i);
        double r = a.get(k * n + i + 1);
        int bk = k * q;
        for (int j = 0; j < q; j++) {
          c[c0 + j] += p * b[bk + j];
          c[c1 + j] += r * b[bk + j];
        }
      }
    }
    for (; i < n; i++) {
      int c0 = i * q;
      double x0 = a.get(i);
      for (int j = 0; j < q; j++) c[c0 + j] = x0 * b[j];
      for (int k = 1; k < m; k++) {
        double p = a.get(k * n + i);
        int bk = k * q;
        for (int j = 0; j < q; j++) c[c0 + j] += p * b[bk + j];
      }
    }
  }
}
