package dev.loraone.core.svd;

import org.ejml.data.DMatrixRMaj;

/**
 * One round of {@link RandomizedSvdRounds}: the product every shard owner computes with its own
 * {@code G_s:[m,n]}, to be summed over shards (in shard order) and handed back.
 *
 * <ul>
 *   <li>{@link Right}: {@code G_s X} with {@code X:[n,q]} (the test matrix, or an orthonormal
 *       basis of the row-space estimate), product {@code [m,q]};
 *   <li>{@link Left}: {@code G_s^T Q} with {@code Q:[m,q]} orthonormal, product {@code [n,q]}.
 * </ul>
 *
 * <p>The operand is shared, not copied: do not modify it.
 */
public sealed interface SvdRequest {

  /** 0-based round index. */
  int round();

  /** The matrix sent to the shard owners. */
  DMatrixRMaj operand();

  /** Rows of the product each shard returns ({@code m} for Right, {@code n} for Left). */
  int productRows();

  /** Columns of the product ({@code q}). */
  default int productCols() {
    return operand().numCols;
  }

  /** Floats each shard uploads for this round: {@code productRows * q}. */
  default long uploadFloats() {
    return (long) productRows() * productCols();
  }

  /** Floats sent to each shard for this round: the operand's size. */
  default long downloadFloats() {
    return (long) operand().numRows * operand().numCols;
  }

  /** This round's product for one operator (one shard, or a whole matrix). */
  DMatrixRMaj applyTo(MatrixOperator g);

  /** Multiply on the right: {@code G X}, {@code X:[n,q]} to {@code [m,q]}. */
  record Right(int round, DMatrixRMaj operand, int productRows) implements SvdRequest {
    @Override
    public DMatrixRMaj applyTo(MatrixOperator g) {
      return g.times(operand);
    }
  }

  /** Multiply by the transpose: {@code G^T Q}, {@code Q:[m,q]} to {@code [n,q]}. */
  record Left(int round, DMatrixRMaj operand, int productRows) implements SvdRequest {
    @Override
    public DMatrixRMaj applyTo(MatrixOperator g) {
      return g.transposeTimes(operand);
    }
  }
}
