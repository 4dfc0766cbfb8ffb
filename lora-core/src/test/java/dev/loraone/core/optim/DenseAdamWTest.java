package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.core.lora.LoraPair;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class DenseAdamWTest {
  private static DMatrixRMaj m(int r, int c, double... v) {
    return new DMatrixRMaj(r, c, true, v);
  }

  @Test
  void matchesPairAdamWOnTheSameTensors() {
    OptimizerConfig cfg = OptimizerConfig.defaults(0.1).withWeightDecay(0.01).withSchedule(Schedule.linear(1, 5));
    LoraPair p = new LoraPair(m(1, 2, 0.5, -1), m(2, 1, 2, 0.25));
    DMatrixRMaj a = p.a().copy();
    DMatrixRMaj b = p.b().copy();
    AdamW pairs = new AdamW(cfg);
    DenseAdamW dense = new DenseAdamW(cfg);
    for (int step = 0; step < 3; step++) {
      LoraPair g = new LoraPair(m(1, 2, 0.3 - step, 1.5), m(2, 1, -0.7, 0.2 * step));
      pairs.step(List.of(p), List.of(g));
      dense.step(List.of(a, b), List.of(g.a(), g.b()));
    }
    assertArrayEquals(p.a().data, a.data, 0.0, "same arithmetic, bit-identical");
    assertArrayEquals(p.b().data, b.data, 0.0);
    assertEquals(3, dense.steps());
  }

  @Test
  void firstStepMovesEachEntryByLrTimesSign() {
    // with bias correction, step 1 is p -= lr * g/|g| (eps negligible): hand-computed
    DMatrixRMaj w = m(1, 3, 1, 2, 3);
    new DenseAdamW(OptimizerConfig.defaults(0.5)).step(List.of(w), List.of(m(1, 3, 4, -0.1, 0)));
    assertArrayEquals(new double[] {0.5, 2.5, 3}, w.data, 1e-7);
  }

  @Test
  void jointClippingScalesPairsAndDenseTogether() {
    LoraPair g = new LoraPair(m(1, 1, 3), m(1, 1, 0));
    DMatrixRMaj d = m(1, 1, 4);
    double norm = GradClip.clipGlobalNorm(List.of(g), List.of(d), 1.0);
    assertEquals(5, norm, 1e-12);
    assertEquals(0.6, g.a().get(0, 0), 1e-6);
    assertEquals(0.8, d.get(0, 0), 1e-6);
  }

  @Test
  void mismatchedShapesAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new DenseAdamW(OptimizerConfig.defaults(0.1)).step(List.of(m(1, 2, 1, 2)), List.of(m(2, 1, 1, 2))));
    assertTrue(e.getMessage().contains("grads[0]"), e.getMessage());
  }
}
