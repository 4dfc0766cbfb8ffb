package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.testing.TestMatrices;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class OptimizersTest {

  private static LoraPair pair(long seed) {
    return new LoraPair(TestMatrices.gaussian(2, 5, seed), TestMatrices.gaussian(4, 2, seed + 100));
  }

  @Test
  void namesResolveAndUnknownNamesListTheAllowedOnes() {
    OptimizerConfig cfg = OptimizerConfig.defaults(1e-3);
    assertInstanceOf(AdamW.class, Optimizers.create("adamw", cfg));
    assertInstanceOf(ScaledAdamW.class, Optimizers.create("Scaled-AdamW", cfg));
    assertInstanceOf(ScaledGD.class, Optimizers.create("scaled-gd", cfg));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Optimizers.create("lion", cfg));
    assertTrue(
        e.getMessage().contains("'lion'")
            && e.getMessage().contains("adamw, scaled-adamw, scaled-gd"),
        e.getMessage());
  }

  @Test
  void globalNormClipMatchesTorchRule() {
    List<LoraPair> grads = List.of(new LoraPair(TestMatrices.of(1, 2, 3, 0), TestMatrices.of(1, 1, 0)),
        new LoraPair(TestMatrices.of(1, 1, 0), TestMatrices.of(1, 1, 4)));
    assertEquals(5.0, GradClip.clipGlobalNorm(grads, 1.0), 0.0);
    assertEquals(5.0 / (5 + 1e-6), GradClip.globalNorm(grads), 1e-15); // scaled by coef = max/(norm + 1e-6)
    List<LoraPair> small = List.of(new LoraPair(TestMatrices.of(1, 1, 0.3), TestMatrices.of(1, 1, 0.4)));
    GradClip.clipGlobalNorm(small, 1.0);
    assertEquals(0.3, small.get(0).a().get(0, 0), 0.0, "norm 0.5 < 1: untouched");
  }

  @Test
  void badConfigValuesAreRejectedNamingTheParameter() {
    OptimizerConfig d = OptimizerConfig.defaults(1e-3);
    String[][] cases = {
      {"beta1=1.0", "[0, 1)"},
      {"lr=NaN", ">= 0"},
      {"loraPlusRatio=0.0", "> 0"},
      {"maxGradNorm=0.0", "> 0"}
    };
    Runnable[] makers = {() -> d.withBetas(1.0, 0.9), () -> d.withLr(Double.NaN), () -> d.withLoraPlusRatio(0),
        () -> d.withMaxGradNorm(0)};
    for (int i = 0; i < cases.length; i++) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, makers[i]::run);
      assertTrue(e.getMessage().contains(cases[i][0]) && e.getMessage().contains(cases[i][1]), e.getMessage());
    }
  }

  @Test
  void mismatchedOrNonFiniteGradsAreRejected() {
    LoraOptimizer opt = Optimizers.create("adamw", OptimizerConfig.defaults(1e-3));
    IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
        () -> opt.step(List.of(pair(1)), List.of(pair(2), pair(3))));
    assertTrue(count.getMessage().contains("1 param pairs but 2 grad pairs"), count.getMessage());
    LoraPair bad = pair(2);
    bad.b().set(1, 1, Double.NaN);
    IllegalArgumentException nan =
        assertThrows(
            IllegalArgumentException.class, () -> opt.step(List.of(pair(1)), List.of(bad)));
    assertTrue(nan.getMessage().contains("grads[0].B") && nan.getMessage().contains("(1, 1)"), nan.getMessage());
    assertEquals(0, opt.steps());
  }

  @Test
  void restoringASnapshotContinuesBitForBit() {
    for (String name : Optimizers.names()) {
      OptimizerConfig cfg = OptimizerConfig.defaults(1e-2).withWeightDecay(0.01).withLoraPlusRatio(4);
      LoraOptimizer first = Optimizers.create(name, cfg);
      LoraPair p = pair(1);
      first.step(List.of(p), List.of(pair(2)));
      OptimizerSnapshot snap = first.snapshot();
      LoraPair resumed = p.copy();
      first.step(List.of(p), List.of(pair(3)));
      LoraOptimizer second = Optimizers.create(name, cfg);
      second.restore(snap);
      second.step(List.of(resumed), List.of(pair(3)));
      TestMatrices.assertBitIdentical(p.a(), resumed.a(), name + " A");
      TestMatrices.assertBitIdentical(p.b(), resumed.b(), name + " B");
      assertEquals(2, second.steps());
    }
  }

  @Test
  void preconditionedOptimizersFollowTheirOwnRuleNotPlainAdamW() {
    // sanity that the three rules differ on the same input (a wiring slip would make two identical)
    DMatrixRMaj[] results = new DMatrixRMaj[3];
    for (int i = 0; i < 3; i++) {
      LoraPair p = pair(1);
      Optimizers.create(Optimizers.names().get(i), OptimizerConfig.defaults(1e-2)).step(List.of(p), List.of(pair(2)));
      results[i] = p.a();
    }
    assertFalse(results[0].get(0, 0) == results[1].get(0, 0));
    assertFalse(results[1].get(0, 0) == results[2].get(0, 0));
  }
}
