package dev.loraone.core.linalg;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * A truncated singular value decomposition {@code M ~= U diag(S) V^T}, singular values sorted
 * descending.
 *
 * <p>Shapes: {@code U:[m,k] S:[k] V:[n,k]} for an {@code [m,n]} matrix and rank {@code k}.
 */
public record Svd(DMatrixRMaj u, double[] s, DMatrixRMaj v) {

  public int rank() {
    return s.length;
  }

  /** Exact (dense, thin) SVD of {@code m}, keeping the top {@code k} triplets, sorted descending. */
  public static Svd exact(DMatrixRMaj m, int k) {
    int full = Math.min(m.numRows, m.numCols);
    if (k < 1 || k > full) {
      throw new IllegalArgumentException(
          "rank k="
              + k
              + " must be in [1, min(rows, cols)="
              + full
              + "] for a "
              + m.numRows
              + "x"
              + m.numCols
              + " matrix");
    }
    SingularValueDecomposition_F64<DMatrixRMaj> dec =
        DecompositionFactory_DDRM.svd(m.numRows, m.numCols, true, true, true);
    if (!dec.decompose(m.copy())) {
      throw new IllegalStateException("SVD failed to converge on a " + m.numRows + "x" + m.numCols + " matrix");
    }
    DMatrixRMaj u = dec.getU(null, false);
    DMatrixRMaj v = dec.getV(null, false);
    double[] sv = dec.getSingularValues();
    Integer[] order = new Integer[sv.length];
    for (int i = 0; i < order.length; i++) order[i] = i;
    java.util.Arrays.sort(order, (a, b) -> Double.compare(sv[b], sv[a]));
    DMatrixRMaj uk = new DMatrixRMaj(m.numRows, k);
    DMatrixRMaj vk = new DMatrixRMaj(m.numCols, k);
    double[] sk = new double[k];
    for (int j = 0; j < k; j++) {
      int src = order[j];
      sk[j] = sv[src];
      for (int i = 0; i < m.numRows; i++) uk.set(i, j, u.get(i, src));
      for (int i = 0; i < m.numCols; i++) vk.set(i, j, v.get(i, src));
    }
    return new Svd(uk, sk, vk);
  }

  /** {@code U diag(S) V^T}: the rank-k reconstruction. */
  public DMatrixRMaj reconstruct() {
    DMatrixRMaj us = u.copy();
    for (int i = 0; i < us.numRows; i++) {
      for (int j = 0; j < us.numCols; j++) us.set(i, j, us.get(i, j) * s[j]);
    }
    DMatrixRMaj out = new DMatrixRMaj(u.numRows, v.numRows);
    CommonOps_DDRM.multTransB(us, v, out);
    return out;
  }
}
