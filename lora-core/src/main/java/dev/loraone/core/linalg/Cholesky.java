package dev.loraone.core.linalg;

import java.util.Optional;
import org.ejml.data.DMatrixRMaj;

/**
 * Solves {@code M X = R} for a small symmetric positive-definite {@code M:[k,k]} by Cholesky,
 * {@code M = L L^T}. Used for the {@code r x r} preconditioners {@code (B^T B + lambda I)} and
 * {@code (A A^T + lambda I)} (reference section 2.6).
 *
 * <p>Fails softly: returns empty when a pivot is not strictly positive or any value turns
 * non-finite, so the caller can fall back (the reference code falls back to the identity when
 * {@code torch.inverse} throws). Only the lower triangle of {@code M} is read.
 */
public final class Cholesky {
  private Cholesky() {}

  /** {@code X = M^-1 R} for {@code M:[k,k]}, {@code R:[k,c]}; empty if M is not numerically SPD. */
  public static Optional<DMatrixRMaj> solve(DMatrixRMaj m, DMatrixRMaj rhs) {
    int k = m.numRows;
    if (m.numCols != k || rhs.numRows != k) {
      throw new IllegalArgumentException(
          "need square M:[k,k] and R:[k,c]; got M "
              + m.numRows
              + "x"
              + m.numCols
              + ", R "
              + rhs.numRows
              + "x"
              + rhs.numCols);
    }
    double[] l = new double[k * k];
    for (int i = 0; i < k; i++) {
      for (int j = 0; j <= i; j++) {
        double sum = m.get(i, j);
        for (int p = 0; p < j; p++) sum -= l[i * k + p] * l[j * k + p];
        if (i == j) {
          if (!(sum > 0) || !Double.isFinite(sum)) return Optional.empty();
          l[i * k + i] = Math.sqrt(sum);
        } else {
          l[i * k + j] = sum / l[j * k + j];
        }
      }
    }
    int c = rhs.numCols;
    DMatrixRMaj x = new DMatrixRMaj(k, c);
    for (int col = 0; col < c; col++) {
      double[] y = new double[k];
      for (int i = 0; i < k; i++) { // forward: L y = r
        double sum = rhs.get(i, col);
        for (int p = 0; p < i; p++) sum -= l[i * k + p] * y[p];
        y[i] = sum / l[i * k + i];
      }
      for (int i = k - 1; i >= 0; i--) { // backward: L^T x = y
        double sum = y[i];
        for (int p = i + 1; p < k; p++) sum -= l[p * k + i] * x.get(p, col);
        x.set(i, col, sum / l[i * k + i]);
      }
    }
    return Matrices.isFinite(x) ? Optional.of(x) : Optional.empty();
  }
}
