package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import java.util.Optional;
import org.ejml.data.DMatrixRMaj;

/**
 * The output of an init: the starting adapter and, for methods that move part of the base weight
 * into the adapter, the offset to subtract from it.
 *
 * <p>Shape legend: {@code A0:[r,in]  B0:[out,r]  offset:[out,in]}. The model after init is
 * {@code (W0 - offset) + s*B*A}; methods that leave W0 untouched (LoRA-One, LoRA, Gaussian) have
 * no offset. An adapter trained from a base-modifying init exports as {@code s*(B*A - B0*A0)}
 * (reference 8.4).
 */
public record InitResult(DMatrixRMaj a, DMatrixRMaj b, Optional<DMatrixRMaj> baseOffset) {

  public InitResult {
    if (a == null || b == null || baseOffset == null)
      throw new IllegalArgumentException("A, B and baseOffset are required");
    if (a.numRows != b.numCols) {
      throw new IllegalArgumentException(
          "A is "
              + a.numRows
              + "x"
              + a.numCols
              + " and B is "
              + b.numRows
              + "x"
              + b.numCols
              + "; A.rows must equal B.cols (= r)");
    }
    baseOffset.ifPresent(
        o -> {
          if (o.numRows != b.numRows || o.numCols != a.numCols) {
            throw new IllegalArgumentException(
                "offset is "
                    + o.numRows
                    + "x"
                    + o.numCols
                    + " but must be "
                    + b.numRows
                    + "x"
                    + a.numCols);
          }
        });
  }

  /** An init that leaves W0 untouched. */
  public static InitResult unchangedBase(DMatrixRMaj a, DMatrixRMaj b) {
    return new InitResult(a, b, Optional.empty());
  }

  /** An init that subtracts {@code offset} from W0. */
  public static InitResult withOffset(DMatrixRMaj a, DMatrixRMaj b, DMatrixRMaj offset) {
    return new InitResult(a, b, Optional.of(offset));
  }

  /** True when the base weight must be replaced by {@code W0 - offset}. */
  public boolean modifiesBase() {
    return baseOffset.isPresent();
  }

  /** The offset, or a zero {@code [out,in]} matrix. */
  public DMatrixRMaj offsetOrZero() {
    return baseOffset.map(DMatrixRMaj::copy).orElseGet(() -> new DMatrixRMaj(b.numRows, a.numCols));
  }

  /** {@code W0 - offset}: the base weight to train on. */
  public DMatrixRMaj residualBase(DMatrixRMaj w0) {
    return baseOffset.map(o -> Matrices.minus(w0, o)).orElseGet(w0::copy);
  }
}
