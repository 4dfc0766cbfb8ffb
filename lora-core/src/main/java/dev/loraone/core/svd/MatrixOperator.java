package dev.loraone.core.svd;

import dev.loraone.core.linalg.Matrices;
import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * A matrix {@code G:[m,n]} seen only through products, which is all the randomized SVD needs:
 * {@code times(X:[n,q]) = G X:[m,q]} and {@code transposeTimes(Q:[m,q]) = G^T Q:[n,q]}.
 *
 * <p>In the distributed init {@code G = sum_s G_s} is never formed: each shard owner applies its
 * own {@code G_s} and the coordinator adds the products in shard order. {@link #sumOf} is that
 * same computation in one process.
 */
public interface MatrixOperator {

  int rows();

  int cols();

  /** {@code G X} for {@code X:[n,q]}, shape {@code [m,q]}. */
  DMatrixRMaj times(DMatrixRMaj x);

  /** {@code G^T Q} for {@code Q:[m,q]}, shape {@code [n,q]}. */
  DMatrixRMaj transposeTimes(DMatrixRMaj q);

  /** The operator of one dense matrix. */
  static MatrixOperator of(DMatrixRMaj g) {
    return new MatrixOperator() {
      @Override public int rows() { return g.numRows; }
      @Override public int cols() { return g.numCols; }
      @Override public DMatrixRMaj times(DMatrixRMaj x) { return Matrices.mult(g, x); }
      @Override public DMatrixRMaj transposeTimes(DMatrixRMaj q) { return Matrices.multTransA(g, q); }
    };
  }

  /**
   * The operator of {@code G = shards[0] + shards[1] + ...}, applied per shard with the products
   * summed in list order, exactly as the coordinator sums what the shard owners return.
   */
  static MatrixOperator sumOf(List<DMatrixRMaj> shards) {
    if (shards.isEmpty()) throw new IllegalArgumentException("need at least one shard");
    List<DMatrixRMaj> fixed = List.copyOf(shards);
    DMatrixRMaj first = fixed.get(0);
    for (int i = 1; i < fixed.size(); i++) {
      DMatrixRMaj s = fixed.get(i);
      if (s.numRows != first.numRows || s.numCols != first.numCols) {
        throw new IllegalArgumentException(
            "shard "
                + i
                + " is "
                + s.numRows
                + "x"
                + s.numCols
                + " but shard 0 is "
                + first.numRows
                + "x"
                + first.numCols);
      }
    }
    return new MatrixOperator() {
      @Override public int rows() { return first.numRows; }
      @Override public int cols() { return first.numCols; }
      @Override public DMatrixRMaj times(DMatrixRMaj x) {
        return Matrices.sumInOrder(fixed.stream().map(g -> Matrices.mult(g, x)).toList());
      }
      @Override public DMatrixRMaj transposeTimes(DMatrixRMaj q) {
        return Matrices.sumInOrder(fixed.stream().map(g -> Matrices.multTransA(g, q)).toList());
      }
    };
  }
}
