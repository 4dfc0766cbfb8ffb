package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.testing.TestMatrices;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScaledAdamWTest {

  private static LoraPair scalars(double a, double b) {
    return new LoraPair(TestMatrices.of(1, 1, a), TestMatrices.of(1, 1, b));
  }

  @Test
  void bIsPreconditionedWithTheAlreadyUpdatedA() {
    // r = in = out = 1, lambda 1, betas (0.5, 0.75), eps 0.5, lr 0.2, no bias correction, so one step
    // from zero moments moves p by lr * 0.5g'/(0.5|g'| + 0.5) = lr * g'/(|g'| + 1).
    // step 1, A = B = 1, gA = 2, gB = 3.62:
    //   gA' = 2 / (B^2 + 1) = 1                  -> A = 1 - 0.2 * 1/2 = 0.9
    //   gB' = 3.62 / (A_new^2 + 1) = 3.62/1.81 = 2 -> B = 1 - 0.2 * 2/3 = 0.8666667
    //   (with the old A: gB' = 3.62/2 = 1.81 -> B = 0.8711744, which this test rejects)
    // step 2, gA = 1, gB = -1:
    //   gA' = 1/(0.8666667^2 + 1) = 0.5710660; mA = 0.25 + 0.2855330 = 0.5355330; vA = 0.1875 + 0.0815279 = 0.2690291
    //   A = 0.9 - 0.2 * 0.5355330/(0.5186802 + 0.5) = 0.7948575
    //   gB' = -1/(0.7948575^2 + 1) = -0.6128208; mB = 0.5 - 0.3064104 = 0.1935896; vB = 0.75 + 0.0938874 = 0.8438873
    //   B = 0.8666667 - 0.2 * 0.1935896/(0.9186334 + 0.5) = 0.8393743
    OptimizerConfig cfg = OptimizerConfig.defaults(0.2).withBetas(0.5, 0.75).withEps(0.5).withLambda(1.0);
    ScaledAdamW opt = new ScaledAdamW(cfg);
    LoraPair p = scalars(1, 1);
    opt.step(List.of(p), List.of(scalars(2, 3.62)));
    assertEquals(0.9, p.a().get(0, 0), 1e-15);
    assertEquals(0.8666666666666667, p.b().get(0, 0), 1e-15);
    opt.step(List.of(p), List.of(scalars(1, -1)));
    assertEquals(0.7948574783994824, p.a().get(0, 0), 1e-12); // double-checked with a float64 script
    assertEquals(0.8393742595184072, p.b().get(0, 0), 1e-12);
    assertEquals(0, opt.preconditionerFallbacks());
  }

  @Test
  void biasCorrectionIsOffByDefaultAndSwitchable() {
    // B = 0 and gB = 0 keep the preconditioner of A at (0 + 1*I)^-1 = I, so A sees plain Adam on a
    // constant grad g = -3: corrected steps move lr*|g|/(|g| + eps) each (HF legacy form: eps outside
    // the correction), uncorrected ones lr*0.1|g|/(sqrt(0.001)|g| + eps) then lr*0.19|g|/(sqrt(0.001999)|g| + eps).
    OptimizerConfig cfg = OptimizerConfig.defaults(0.01).withLambda(1.0);
    LoraPair off = scalars(0, 0);
    LoraPair on = scalars(0, 0);
    ScaledAdamW byDefault = new ScaledAdamW(cfg);
    ScaledAdamW corrected = new ScaledAdamW(cfg.withBiasCorrection(true));
    for (int t = 0; t < 2; t++) {
      byDefault.step(List.of(off), List.of(scalars(-3, 0)));
      corrected.step(List.of(on), List.of(scalars(-3, 0)));
    }
    double eps = 1e-8;
    double step1 = 0.1 * 3 / (Math.sqrt(0.001) * 3 + eps);
    double step2 = 0.19 * 3 / (Math.sqrt(0.001999) * 3 + eps);
    assertEquals(0.01 * (step1 + step2), off.a().get(0, 0), 1e-15); // rounding of the moment updates only
    // corrected: m_t = (1-b1^t) g and v_t = (1-b2^t) g^2, so step t moves lr*sqrt(1-b2^t)|g|/(sqrt(1-b2^t)|g| + eps)
    double c1 = Math.sqrt(0.001) * 3 / (Math.sqrt(0.001) * 3 + eps);
    double c2 = Math.sqrt(0.001999) * 3 / (Math.sqrt(0.001999) * 3 + eps);
    assertEquals(0.01 * (c1 + c2), on.a().get(0, 0), 1e-15);
    assertEquals(0.0, off.b().get(0, 0), 0.0);
  }

  @Test
  void failedCholeskyFallsBackToTheIdentity() {
    // B = [1e6 1e6] (out 1, r 2): B^T B + 1e-6 I rounds to the singular [1e12 1e12; 1e12 1e12]
    // (ulp(1e12) = 1.2e-4), so the Cholesky pivot is 0 and gA is used as is:
    // A -= lr * g/(|g| + 1) with lr 0.2, betas (0.5, 0.75), eps 0.5: g = [1; -3] -> A = [-0.1; 0.15].
    // (A preconditioned gA' would be ~1e-12 in size and, with eps 0.5, would barely move A.)
    OptimizerConfig cfg = OptimizerConfig.defaults(0.2).withBetas(0.5, 0.75).withEps(0.5);
    ScaledAdamW opt = new ScaledAdamW(cfg);
    LoraPair p = new LoraPair(TestMatrices.of(2, 1, 0, 0), TestMatrices.of(1, 2, 1e6, 1e6));
    LoraPair g = new LoraPair(TestMatrices.of(2, 1, 1, -3), TestMatrices.of(1, 2, 0, 0));
    opt.step(List.of(p), List.of(g));
    TestMatrices.assertClose(TestMatrices.of(2, 1, -0.1, 0.15), p.a(), 1e-15, "A after identity fallback");
    assertEquals(1, opt.preconditionerFallbacks(), "only A's preconditioner fails; A_new A_new^T + lambda I is SPD");
  }

  @Test
  void weightDecayComesAfterTheAdamStep() {
    // lr 0.2, wd 0.5, same single-step rule: A = 1, gA' = 2/(0 + 1) = 2 (B = 0, lambda 1)
    // Adam: A = 1 - 0.2 * 2/3 = 0.8666667; then A -= 0.2*0.5*A -> 0.78 (decay first would give 0.7666667)
    OptimizerConfig cfg = OptimizerConfig.defaults(0.2).withBetas(0.5, 0.75).withEps(0.5).withLambda(1.0)
        .withWeightDecay(0.5);
    LoraPair p = scalars(1, 0);
    new ScaledAdamW(cfg).step(List.of(p), List.of(scalars(2, 0)));
    assertEquals(0.78, p.a().get(0, 0), 1e-15);
  }

  @Test
  void lambdaMustBePositive() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> OptimizerConfig.defaults(1e-4).withLambda(0));
    assertTrue(e.getMessage().contains("lambda=0.0") && e.getMessage().contains("> 0"), e.getMessage());
  }
}
