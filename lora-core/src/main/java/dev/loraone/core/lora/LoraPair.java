package dev.loraone.core.lora;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * One layer's adapter factors, or their gradients: the unit every optimizer in
 * {@code dev.loraone.core.optim} steps over.
 *
 * <p>Shape legend: {@code A:[r,in]  B:[out,r]  dW = s*B*A:[out,in]}. The matrices are held by
 * reference; optimizers update a parameter pair in place.
 */
public record LoraPair(DMatrixRMaj a, DMatrixRMaj b) {

  public LoraPair {
    if (a == null || b == null) {
      throw new IllegalArgumentException("both factors A and B are required");
    }
    if (a.numRows != b.numCols) {
      throw new IllegalArgumentException(
          "rank mismatch: A is " + a.numRows + "x" + a.numCols + " (r,in) but B is " + b.numRows + "x" + b.numCols
              + " (out,r); A.rows must equal B.cols");
    }
  }

  public int rank() {
    return a.numRows;
  }

  public int in() {
    return a.numCols;
  }

  public int out() {
    return b.numRows;
  }

  /** Deep copy of both factors. */
  public LoraPair copy() {
    return new LoraPair(a.copy(), b.copy());
  }

  /** {@code s * B * A}: the weight update this pair adds, shape {@code [out,in]}. */
  public DMatrixRMaj delta(double scaling) {
    DMatrixRMaj d = new DMatrixRMaj(out(), in());
    CommonOps_DDRM.mult(scaling, b, a, d);
    return d;
  }

  /** True when {@code other} has the same {@code A} and {@code B} shapes. */
  public boolean sameShape(LoraPair other) {
    return a.numRows == other.a.numRows && a.numCols == other.a.numCols
        && b.numRows == other.b.numRows && b.numCols == other.b.numCols;
  }
}
