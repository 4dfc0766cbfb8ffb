package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

class FactoredDescentTest {
  private static final LinearTask.Dims SMALL = new LinearTask.Dims(12, 10, 3, 2, 96);
  private static final LinearTask TASK = LinearTask.sample(SMALL, new double[] {1.0, 0.4}, LinearTask.stream(7, 1));

  /** A start with nonzero A, B and base offset, so every term of the gradient is exercised. */
  private static LoraStart start() {
    DMatrixRMaj a = LinearTask.gaussian(12, 3, LinearTask.stream(7, 2));
    DMatrixRMaj b = LinearTask.gaussian(3, 10, LinearTask.stream(7, 3));
    DMatrixRMaj offset = LinearTask.gaussian(12, 10, LinearTask.stream(7, 4));
    CommonOps_DDRM.scale(0.1, offset);
    return new LoraStart(a, b, offset);
  }

  private static double lossAt(LoraStart s, DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj w = TASK.w0().copy();
    CommonOps_DDRM.addEquals(w, s.baseOffset());
    CommonOps_DDRM.multAdd(a, b, w);
    return TASK.loss(w);
  }

  @Test
  void plainStepMovesAlongFiniteDifferenceGradientsOfTheDirectLoss() {
    LoraStart s = start();
    FactoredDescent gd = new FactoredDescent(TASK, s);
    double lr = 1e-3;
    gd.step(FactoredDescent.Rule.plain(lr));
    double h = 1e-6;
    for (int[] ij : new int[][] {{0, 0}, {5, 2}, {11, 1}}) {
      DMatrixRMaj plus = s.a().copy();
      DMatrixRMaj minus = s.a().copy();
      plus.add(ij[0], ij[1], h);
      minus.add(ij[0], ij[1], -h);
      double slope = (lossAt(s, plus, s.b()) - lossAt(s, minus, s.b())) / (2 * h);
      double taken = (s.a().get(ij[0], ij[1]) - gd.a().get(ij[0], ij[1])) / lr;
      // tolerance: finite-difference round-off ~1e-16 * L / h, plus the 1/lr-amplified step round-off
      assertEquals(slope, taken, 1e-6, "dL/dA" + ij[0] + "," + ij[1]);
    }
    for (int[] ij : new int[][] {{0, 0}, {2, 9}}) {
      DMatrixRMaj plus = s.b().copy();
      DMatrixRMaj minus = s.b().copy();
      plus.add(ij[0], ij[1], h);
      minus.add(ij[0], ij[1], -h);
      double slope = (lossAt(s, s.a(), plus) - lossAt(s, s.a(), minus)) / (2 * h);
      double taken = (s.b().get(ij[0], ij[1]) - gd.b().get(ij[0], ij[1])) / lr;
      assertEquals(slope, taken, 1e-6, "dL/dB" + ij[0] + "," + ij[1]);
    }
  }

  @Test
  void preconditionedStepIsThePlainStepTimesTheRidgeInverses() {
    LoraStart s = start();
    FactoredDescent plain = new FactoredDescent(TASK, s);
    FactoredDescent prec = new FactoredDescent(TASK, s);
    double lambda = 0.3;
    plain.step(FactoredDescent.Rule.plain(1.0));
    prec.step(FactoredDescent.Rule.preconditioned(1.0, lambda));
    DMatrixRMaj gA = minus(s.a(), plain.a());
    DMatrixRMaj gB = minus(s.b(), plain.b());
    // stepA (B B^T + lambda I) = g_A  and  (A^T A + lambda I) stepB = g_B, with the old A and B
    DMatrixRMaj bbt = new DMatrixRMaj(3, 3);
    CommonOps_DDRM.multTransB(s.b(), s.b(), bbt);
    DMatrixRMaj ata = new DMatrixRMaj(3, 3);
    CommonOps_DDRM.multTransA(s.a(), s.a(), ata);
    for (int i = 0; i < 3; i++) {
      bbt.add(i, i, lambda);
      ata.add(i, i, lambda);
    }
    DMatrixRMaj backA = new DMatrixRMaj(12, 3);
    CommonOps_DDRM.mult(minus(s.a(), prec.a()), bbt, backA);
    DMatrixRMaj backB = new DMatrixRMaj(3, 10);
    CommonOps_DDRM.mult(ata, minus(s.b(), prec.b()), backB);
    assertTrue(CommonOps_DDRM.elementMaxAbs(minus(backA, gA)) < 1e-10);
    assertTrue(CommonOps_DDRM.elementMaxAbs(minus(backB, gB)) < 1e-10);
  }

  @Test
  void riskCountsTheBaseOffset() {
    LoraStart s = start();
    DMatrixRMaj deltaW = s.baseOffset().copy();
    CommonOps_DDRM.multAdd(s.a(), s.b(), deltaW);
    assertEquals(TASK.risk(deltaW), new FactoredDescent(TASK, s).risk(), 1e-12);
  }

  @Test
  void stepsToReachIsZeroWhenAlreadyBelowAndMinusOneWhenCapped() {
    FactoredDescent gd = new FactoredDescent(TASK, start());
    double risk = gd.risk();
    assertEquals(0, gd.stepsToReach(FactoredDescent.Rule.plain(1e-3), risk, 10));
    assertEquals(-1, gd.stepsToReach(FactoredDescent.Rule.plain(1e-9), risk / 2, 5));
  }

  private static DMatrixRMaj minus(DMatrixRMaj x, DMatrixRMaj y) {
    DMatrixRMaj d = new DMatrixRMaj(x.numRows, x.numCols);
    CommonOps_DDRM.subtract(x, y, d);
    return d;
  }
}
