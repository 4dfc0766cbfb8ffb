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
    return sum(shards.stream().map(MatrixOperator::of).toList());
  }

  /** {@link #sumOf(List)} of operators: each shard's products, summed in list order. */
  static MatrixOperator sum(List<? extends MatrixOperator> shards) {
    if (shards.isEmpty()) throw new IllegalArgumentException("need at least one shard");
    List<MatrixOperator> fixed = List.copyOf(shards);
    MatrixOperator first = fixed.get(0);
    for (int i = 1; i < fixed.size(); i++) {
      MatrixOperator s = fixed.get(i);
      if (s.rows() != first.rows() || s.cols() != first.cols()) {
        throw new IllegalArgumentException("shard " + i + " is " + s.rows() + "x" + s.cols() + " but shard 0 is "
            + first.rows() + "x" + first.cols());
      }
    }
    return new MatrixOperator() {
      @Override public int rows() { return first.rows(); }
      @Override public int cols() { return first.cols(); }
      @Override public DMatrixRMaj times(DMatrixRMaj x) {
        return Matrices.sumInOrder(fixed.stream().map(g -> g.times(x)).toList());
      }
      @Override public DMatrixRMaj transposeTimes(DMatrixRMaj q) {
        return Matrices.sumInOrder(fixed.stream().map(g -> g.transposeTimes(q)).toList());
      }
    };
  }
}
