package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.testing.TestMatrices;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScaledGDTest {

  private static LoraPair scalars(double a, double b) {
    return new LoraPair(TestMatrices.of(1, 1, a), TestMatrices.of(1, 1, b));
  }

  @Test
  void bothGradsArePreconditionedWithTheOldFactors() {
    // lambda 1, lr 0.1, A = 1, B = 2.
    // step 1: gA = 5 -> 5/(B^2 + 1) = 1; gB = 4 -> 4/(A^2 + 1) = 2    => A = 0.9, B = 1.8
    // step 2: gA = 4.24 -> 4.24/(1.8^2 + 1) = 1; gB = 3.62 -> 3.62/(0.9^2 + 1) = 2 => A = 0.8, B = 1.6
    //   (with the new A = 0.8, gB' would be 3.62/1.64 = 2.207 and B = 1.579)
    ScaledGD opt = new ScaledGD(OptimizerConfig.defaults(0.1).withLambda(1.0));
    LoraPair p = scalars(1, 2);
    opt.step(List.of(p), List.of(scalars(5, 4)));
    assertEquals(0.9, p.a().get(0, 0), 1e-15);
    assertEquals(1.8, p.b().get(0, 0), 1e-15);
    opt.step(List.of(p), List.of(scalars(4.24, 3.62)));
    assertEquals(0.8, p.a().get(0, 0), 1e-15);
    assertEquals(1.6, p.b().get(0, 0), 1e-15);
  }

  @Test
  void weightDecayIsAppliedBeforeTheStep() {
    // wd 0.5, lr 0.1: A = 1 - 0.05 = 0.95, then - 0.1 * 5/5 = 0.85; B = 2 - 0.1 = 1.9, then - 0.1 * 4/2 = 1.7
    ScaledGD opt = new ScaledGD(OptimizerConfig.defaults(0.1).withLambda(1.0).withWeightDecay(0.5));
    LoraPair p = scalars(1, 2);
    opt.step(List.of(p), List.of(scalars(5, 4)));
    assertEquals(0.85, p.a().get(0, 0), 1e-15);
    assertEquals(1.7, p.b().get(0, 0), 1e-15);
  }

  @Test
  void globalNormClippingScalesAllPairsTogether() {
    // grads 3 (pair 0, A) and 4 (pair 1, B): global norm 5 > 1, so every grad is scaled by 1/(5 + 1e-6).
    // Factors at 0 with lambda 1 make both preconditioners the identity: A0 = -0.1*3/5.000001, B1 = -0.1*4/5.000001.
    ScaledGD opt = new ScaledGD(OptimizerConfig.defaults(0.1).withLambda(1.0).withMaxGradNorm(1.0));
    List<LoraPair> params = List.of(scalars(0, 0), scalars(0, 0));
    List<LoraPair> grads = List.of(scalars(3, 0), scalars(0, 4));
    LoraOptimizer.StepInfo info = opt.step(params, grads);
    assertEquals(5.0, info.gradNorm(), 0.0);
    assertTrue(info.clipped());
    assertEquals(-0.3 / 5.000001, params.get(0).a().get(0, 0), 1e-15);
    assertEquals(-0.4 / 5.000001, params.get(1).b().get(0, 0), 1e-15);
    assertEquals(3.0, grads.get(0).a().get(0, 0), 0.0, "the caller's grads are not modified");
  }

  @Test
  void loraPlusRatioAndScheduleSetTheLearningRates() {
    // linear schedule, warmup 2 of 10: factors 0, 0.5, 1 at steps 0, 1, 2; B's lr is 4x A's.
    OptimizerConfig cfg =
        OptimizerConfig.defaults(0.1)
            .withLambda(1.0)
            .withLoraPlusRatio(4)
            .withSchedule(Schedule.linear(2, 10));
    ScaledGD opt = new ScaledGD(cfg);
    LoraPair p = scalars(0, 0);
    assertEquals(0.0, opt.step(List.of(p), List.of(scalars(1, 1))).lrA(), 0.0);
    assertEquals(0.0, p.a().get(0, 0), 0.0, "HF: the first warmup step runs at lr 0");
    LoraOptimizer.StepInfo second = opt.step(List.of(p), List.of(scalars(1, 1)));
    assertEquals(0.05, second.lrA(), 1e-15);
    assertEquals(0.2, second.lrB(), 1e-15);
    assertEquals(-0.05, p.a().get(0, 0), 1e-15); // gA' = 1/(0 + 1)
    assertEquals(-0.2, p.b().get(0, 0), 1e-15);
  }
}
