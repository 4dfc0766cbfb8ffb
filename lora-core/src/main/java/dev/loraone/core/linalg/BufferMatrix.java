package dev.loraone.core.linalg;

import dev.loraone.core.svd.MatrixOperator;
import java.nio.DoubleBuffer;
import org.ejml.data.DMatrixRMaj;

/**
 * A row-major {@code [rows, cols]} float64 matrix in a {@link DoubleBuffer}: on the heap ({@link
 * #of(DMatrixRMaj)}) or in native memory (a direct buffer over a native array), so that a gradient sum of
 * hundreds of megabytes need not be a Java array. Entry {@code (i, j)} is {@code data.get(i * cols + j)};
 * the buffer's position is ignored.
 *
 * <p>Its products ({@link #operator()}) are bit-identical to {@link Matrices#mult} and {@link
 * Matrices#multTransA} of the same entries: the distributed init may hold a shard's sum either way.
 */
public record BufferMatrix(int rows, int cols, DoubleBuffer data) {
  public BufferMatrix {
    if (rows < 0 || cols < 0 || data.limit() < (long) rows * cols) {
      throw new IllegalArgumentException(
          "a " + rows + "x" + cols + " matrix needs " + (long) rows * cols + " entries, the buffer has "
              + data.limit());
    }
  }

  /** The entries of {@code m} (not a copy: writes to either show in both). */
  public static BufferMatrix of(DMatrixRMaj m) {
    return new BufferMatrix(m.numRows, m.numCols, DoubleBuffer.wrap(m.data, 0, m.numRows * m.numCols));
  }

  /** A copy on the heap. */
  public DMatrixRMaj toDense() {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    data.get(0, m.data, 0, rows * cols);
    return m;
  }

  /**
   * Throws {@link IllegalArgumentException} naming {@code what} and the first non-finite entry, as {@link
   * Matrices#requireFinite} does.
   *
   * @return this, for chaining
   */
  public BufferMatrix requireFinite(String what) {
    int n = rows * cols;
    for (int i = 0; i < n; i++) {
      double v = data.get(i);
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException(what + " has a non-finite entry " + v + " at (" + i / cols + ", "
            + i % cols + "); all entries must be finite");
      }
    }
    return this;
  }

  /** The matrix as an operator: {@code G X} and {@code G^T Q}, with the bits of the dense products. */
  public MatrixOperator operator() {
    return new MatrixOperator() {
      @Override public int rows() { return rows; }
      @Override public int cols() { return cols; }
      @Override public DMatrixRMaj times(DMatrixRMaj x) { return OrderedProducts.mult(BufferMatrix.this, x); }
      @Override public DMatrixRMaj transposeTimes(DMatrixRMaj q) {
        return OrderedProducts.multTransA(BufferMatrix.this, q);
      }
    };
  }
}
