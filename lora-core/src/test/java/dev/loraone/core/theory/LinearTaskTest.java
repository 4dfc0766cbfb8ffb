package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

class LinearTaskTest {
  private static final LinearTask.Dims SMALL = new LinearTask.Dims(12, 10, 3, 2, 96);

  @Test
  void deltaHasExactlyTheRequestedSingularValues() {
    LinearTask task = LinearTask.sample(SMALL, new double[] {2.0, 0.5}, LinearTask.stream(3, 1));
    double[] s = Svd.exact(task.delta(), 3).s();
    // exact SVD of an exactly rank-2 product: round-off only
    assertArrayEquals(new double[] {2.0, 0.5, 0.0}, s, 1e-12);
  }

  @Test
  void negativeGradientMatchesFiniteDifferencesOfTheDirectLoss() {
    LinearTask task = LinearTask.sample(SMALL, new double[] {1.0, 0.3}, LinearTask.stream(5, 1));
    DMatrixRMaj w = task.w0().copy();
    CommonOps_DDRM.addEquals(w, 0.7, LinearTask.gaussian(SMALL.d(), SMALL.k(), LinearTask.stream(5, 2)));
    DMatrixRMaj g = task.negativeGradient(w);
    double h = 1e-6;
    for (int[] ij : new int[][] {{0, 0}, {3, 7}, {11, 9}}) {
      DMatrixRMaj plus = w.copy();
      DMatrixRMaj minus = w.copy();
      plus.add(ij[0], ij[1], h);
      minus.add(ij[0], ij[1], -h);
      double slope = (task.loss(plus) - task.loss(minus)) / (2 * h);
      // central difference of a quadratic: exact up to round-off of ~1e-16 * L / h
      assertEquals(-slope, g.get(ij[0], ij[1]), 1e-7);
    }
  }

  @Test
  void gIsZeroAtTheTargetGradientAndLossVanishesThere() {
    LinearTask task = LinearTask.sample(SMALL, new double[] {1.0, 0.3}, LinearTask.stream(6, 1));
    DMatrixRMaj target = new DMatrixRMaj(SMALL.d(), SMALL.k());
    CommonOps_DDRM.add(task.w0(), task.delta(), target);
    assertEquals(0.0, CommonOps_DDRM.elementMaxAbs(task.negativeGradient(target)), 1e-13);
    assertEquals(0.0, task.loss(target), 1e-25);
  }

  @Test
  void rejectsAWrongNumberOfSingularValues() {
    assertThrows(IllegalArgumentException.class,
        () -> LinearTask.sample(SMALL, new double[] {1.0}, LinearTask.stream(0, 1)));
  }
}
