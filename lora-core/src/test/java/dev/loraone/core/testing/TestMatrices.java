package dev.loraone.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loraone.core.linalg.Matrices;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/** Seeded test matrices and matrix assertions shared by the lora-core tests. */
public final class TestMatrices {
  private TestMatrices() {}

  public static DMatrixRMaj gaussian(int rows, int cols, long seed) {
    return Matrices.gaussian(rows, cols, new Random(seed), 1.0);
  }

  /** {@code U diag(s) V^T} with U:[m,k], V:[n,k] random orthonormal, k = s.length. */
  public static DMatrixRMaj withSpectrum(int m, int n, double[] s, long seed) {
    DMatrixRMaj u = Matrices.orthonormalColumns(gaussian(m, s.length, seed));
    DMatrixRMaj v = Matrices.orthonormalColumns(gaussian(n, s.length, seed + 1));
    return Matrices.multTransB(Matrices.scaleColumns(u, s), v);
  }

  /**
   * The flat gradient spectrum measured on MiniLM (INIT-SVD-FINDINGS.md, medians): log-log
   * interpolation through sigma_k/sigma_1 = 1, 0.18, 0.11, 0.065, 0.036, 0.014 at
   * k = 1, 8, 16, 32, 64, 128, extended past 128 with the last slope.
   */
  public static double[] flatGradientSpectrum(int count) {
    double[] k = {1, 8, 16, 32, 64, 128};
    double[] v = {1, 0.18, 0.11, 0.065, 0.036, 0.014};
    double[] s = new double[count];
    for (int i = 0; i < count; i++) {
      double x = Math.log(i + 1);
      int seg = 0;
      while (seg < k.length - 2 && i + 1 > k[seg + 1]) seg++;
      double x0 = Math.log(k[seg]), x1 = Math.log(k[seg + 1]);
      double y0 = Math.log(v[seg]), y1 = Math.log(v[seg + 1]);
      s[i] = Math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0));
    }
    return s;
  }

  public static DMatrixRMaj of(int rows, int cols, double... values) {
    return new DMatrixRMaj(rows, cols, true, values);
  }

  /** Entrywise {@code |expected - actual| <= tol}, with the first offending entry in the message. */
  public static void assertClose(DMatrixRMaj expected, DMatrixRMaj actual, double tol, String what) {
    assertEquals(expected.numRows, actual.numRows, what + ": rows");
    assertEquals(expected.numCols, actual.numCols, what + ": cols");
    for (int i = 0; i < expected.numRows; i++) {
      for (int j = 0; j < expected.numCols; j++) {
        double e = expected.get(i, j), a = actual.get(i, j);
        if (!(Math.abs(e - a) <= tol)) {
          fail(what + ": entry (" + i + ", " + j + ") expected " + e + " but was " + a + " (tol " + tol + ")");
        }
      }
    }
  }

  /** Same shape and identical bits. */
  public static void assertBitIdentical(DMatrixRMaj expected, DMatrixRMaj actual, String what) {
    assertEquals(expected.numRows, actual.numRows, what + ": rows");
    assertEquals(expected.numCols, actual.numCols, what + ": cols");
    for (int i = 0; i < expected.getNumElements(); i++) {
      if (Double.doubleToRawLongBits(expected.data[i]) != Double.doubleToRawLongBits(actual.data[i])) {
        fail(what + ": element " + i + " differs: " + expected.data[i] + " vs " + actual.data[i]);
      }
    }
  }
}
