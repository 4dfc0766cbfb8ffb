package dev.loraone.core.optim;

import dev.loraone.core.linalg.Cholesky;
import dev.loraone.core.linalg.Matrices;
import java.util.Optional;
import org.ejml.data.DMatrixRMaj;

/**
 * The {@code r x r} Riemannian preconditioners of scaled GD / scaled AdamW (Zhang and Pilanci
 * 2024; reference 2.6 in PEFT shapes, {@code A:[r,in]  B:[out,r]  gA:[r,in]  gB:[out,r]}):
 *
 * <pre>
 *   gA' = (B^T B + lambda I)^-1 gA      left-multiply
 *   gB' = gB (A A^T + lambda I)^-1      right-multiply
 * </pre>
 *
 * Each is a Cholesky solve; empty when the matrix is not numerically positive definite, where the
 * reference falls back to the identity.
 */
public final class Preconditioner {
  private Preconditioner() {}

  /** {@code (B^T B + lambda I)^-1 gA}, or empty if the Cholesky factorisation fails. */
  public static Optional<DMatrixRMaj> left(DMatrixRMaj b, DMatrixRMaj gA, double lambda) {
    DMatrixRMaj m = Matrices.multTransA(b, b);
    addDiagonal(m, lambda);
    return Cholesky.solve(m, gA);
  }

  /** {@code gB (A A^T + lambda I)^-1}, or empty if the Cholesky factorisation fails. */
  public static Optional<DMatrixRMaj> right(DMatrixRMaj gB, DMatrixRMaj a, double lambda) {
    DMatrixRMaj m = Matrices.multTransB(a, a);
    addDiagonal(m, lambda);
    // X M = gB  <=>  M X^T = gB^T, since M is symmetric
    return Cholesky.solve(m, Matrices.transpose(gB)).map(Matrices::transpose);
  }

  private static void addDiagonal(DMatrixRMaj m, double lambda) {
    for (int i = 0; i < m.numRows; i++) m.set(i, i, m.get(i, i) + lambda);
  }
}
