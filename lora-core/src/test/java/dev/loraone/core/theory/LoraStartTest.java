package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.linalg.Svd;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

class LoraStartTest {
  private static final DMatrixRMaj G = LinearTask.gaussian(20, 16, LinearTask.stream(11, 1));

  private static DMatrixRMaj product(LoraStart s) {
    DMatrixRMaj ab = new DMatrixRMaj(s.a().numRows, s.b().numCols);
    CommonOps_DDRM.mult(s.a(), s.b(), ab);
    return ab;
  }

  @Test
  void spectralInitWithGammaOneIsTheBestRankRApproximationOfG() {
    DMatrixRMaj ab = product(LoraStart.spectral(G, 4, 1.0));
    DMatrixRMaj best = Svd.exact(G, 4).reconstruct();
    assertTrue(CommonOps_DDRM.elementMaxAbs(diff(ab, best)) < 1e-12);
  }

  @Test
  void spectralInitBalancesTheFactors() {
    LoraStart s = LoraStart.spectral(G, 4, 2.0);
    DMatrixRMaj ata = new DMatrixRMaj(4, 4);
    DMatrixRMaj bbt = new DMatrixRMaj(4, 4);
    CommonOps_DDRM.multTransA(s.a(), s.a(), ata);
    CommonOps_DDRM.multTransB(s.b(), s.b(), bbt);
    // both equal gamma * diag(S_r)
    assertTrue(CommonOps_DDRM.elementMaxAbs(diff(ata, bbt)) < 1e-12);
    assertEquals(2.0 * Svd.exact(G, 1).s()[0], ata.get(0, 0), 1e-12);
  }

  @Test
  void loraGaStartLeavesTheModelUnchanged() {
    LoraStart s = LoraStart.loraGa(G, 4, 4.0);
    DMatrixRMaj effective = product(s);
    CommonOps_DDRM.addEquals(effective, s.baseOffset());
    assertEquals(0.0, CommonOps_DDRM.elementMaxAbs(effective), 1e-14);
    // unit singular vectors times c = k^(1/4) / sqrt(gamma): column norms of A equal c
    double c = Math.pow(16, 0.25) / 2;
    double col0 = 0;
    for (int i = 0; i < 20; i++) col0 += s.a().get(i, 0) * s.a().get(i, 0);
    assertEquals(c, Math.sqrt(col0), 1e-12);
  }

  @Test
  void loraGaUsesSingularDirectionsRPlusOneToTwoRForB() {
    LoraStart s = LoraStart.loraGa(G, 3, 1.0);
    Svd svd = Svd.exact(G, 6);
    double c = Math.pow(16, 0.25);
    for (int j = 0; j < 3; j++) {
      double dot = 0;
      for (int i = 0; i < 16; i++) dot += s.b().get(j, i) * svd.v().get(i, 3 + j);
      assertEquals(c, Math.abs(dot), 1e-10, "row " + j + " of B vs right singular vector " + (3 + j));
    }
  }

  @Test
  void defaultLoraStartsWithZeroBAndBoundedA() {
    LoraStart s = LoraStart.kaimingUniform(100, 30, 8, LinearTask.stream(2, 2));
    assertEquals(0.0, CommonOps_DDRM.elementMaxAbs(s.b()));
    assertTrue(CommonOps_DDRM.elementMaxAbs(s.a()) <= 0.1);
    assertTrue(CommonOps_DDRM.elementMaxAbs(s.a()) > 0.09);
  }

  private static DMatrixRMaj diff(DMatrixRMaj x, DMatrixRMaj y) {
    DMatrixRMaj d = new DMatrixRMaj(x.numRows, x.numCols);
    CommonOps_DDRM.subtract(x, y, d);
    return d;
  }
}
