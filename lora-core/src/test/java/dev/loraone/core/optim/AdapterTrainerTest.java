package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.core.lora.LoraPair;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class AdapterTrainerTest {
  private static AdapterTrainer trainer(String opt) {
    LoraPair p = new LoraPair(new DMatrixRMaj(1, 2, true, 0.5, -0.25), new DMatrixRMaj(2, 1, true, 0.1, 0.2));
    DMatrixRMaj head = new DMatrixRMaj(1, 2, true, 1, -1);
    OptimizerConfig cfg = OptimizerConfig.defaults(0.05).withSchedule(Schedule.linear(1, 4));
    return new AdapterTrainer(opt, cfg, 1.0, List.of("q"), List.of(p), List.of(head));
  }

  private static float[][][] ab(float s) {
    return new float[][][] {{{s, -2 * s}, {0.5f * s, s}}};
  }

  private static float[][] head(float s) {
    return new float[][] {{s, s / 3}};
  }

  @Test
  void stepIsTheMeanOfTheMicroBatchesThenClipThenOptimizer() {
    AdapterTrainer t = trainer("scaled-adamw");
    t.accumulate().add(ab(1), head(2)).add(ab(3), head(-1)).apply(2);
    // reference: the same arithmetic done by hand with the public pieces
    LoraPair p = new LoraPair(new DMatrixRMaj(1, 2, true, 0.5, -0.25), new DMatrixRMaj(2, 1, true, 0.1, 0.2));
    DMatrixRMaj h = new DMatrixRMaj(1, 2, true, 1, -1);
    LoraPair g = new LoraPair(new DMatrixRMaj(1, 2, true, ((double) 1 + 3) / 2, ((double) -2 + -6) / 2),
        new DMatrixRMaj(2, 1, true, ((double) 0.5f + 1.5f) / 2, ((double) 1 + 3) / 2));
    DMatrixRMaj hg = new DMatrixRMaj(1, 2, true, ((double) 2 + -1) / 2, ((double) (2f / 3) + (-1f / 3)) / 2);
    GradClip.clipGlobalNorm(List.of(g), List.of(hg), 1.0);
    OptimizerConfig cfg = OptimizerConfig.defaults(0.05).withSchedule(Schedule.linear(1, 4));
    Optimizers.create("scaled-adamw", cfg).step(List.of(p), List.of(g));
    new DenseAdamW(cfg).step(List.of(h), List.of(hg));
    assertArrayEquals(p.a().data, t.pairs().get(0).a().data, 1e-15);
    assertArrayEquals(p.b().data, t.pairs().get(0).b().data, 1e-15);
    assertArrayEquals(h.data, t.dense().get(0).data, 1e-15);
  }

  @Test
  void nonFiniteGradientFailsWithoutTouchingTheMasters() {
    AdapterTrainer t = trainer("adamw");
    double[] before = t.pairs().get(0).a().data.clone();
    AdapterTrainer.DivergedException e = assertThrows(AdapterTrainer.DivergedException.class,
        () -> t.accumulate().add(ab(Float.NaN), head(1)).apply(1));
    assertTrue(e.getMessage().contains("step 1") && e.getMessage().contains("q"), e.getMessage());
    assertArrayEquals(before, t.pairs().get(0).a().data);
    assertEquals(0, t.steps());
  }

  @Test
  void restoredTrainerContinuesBitForBit() {
    AdapterTrainer a = trainer("adamw");
    a.accumulate().add(ab(1), head(1)).apply(1);
    AdapterTrainer b = trainer("adamw");
    b.restore(List.of(a.pairs().get(0).copy()), List.of(a.dense().get(0).copy()), a.snapshot());
    a.accumulate().add(ab(-2), head(0.5f)).apply(1);
    b.accumulate().add(ab(-2), head(0.5f)).apply(1);
    assertArrayEquals(a.pairs().get(0).b().data, b.pairs().get(0).b().data, 0.0);
    assertArrayEquals(a.dense().get(0).data, b.dense().get(0).data, 0.0);
    assertEquals(2, b.steps());
  }
}
