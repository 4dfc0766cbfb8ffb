package dev.loraone.core.optim;

import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * A copy of an optimizer's state: the step count and, for Adam-style optimizers, the first and
 * second moments of each pair ({@code mA, vA:[r,in]  mB, vB:[out,r]}). Empty for ScaledGD.
 */
public record OptimizerSnapshot(int steps, List<PairMoments> moments) {

  public OptimizerSnapshot {
    if (steps < 0) throw new IllegalArgumentException("steps=" + steps + " must be >= 0");
    moments = List.copyOf(moments);
  }

  /** Adam moments of one pair. */
  public record PairMoments(DMatrixRMaj mA, DMatrixRMaj vA, DMatrixRMaj mB, DMatrixRMaj vB) {

    PairMoments copy() {
      return new PairMoments(mA.copy(), vA.copy(), mB.copy(), vB.copy());
    }
  }
}
