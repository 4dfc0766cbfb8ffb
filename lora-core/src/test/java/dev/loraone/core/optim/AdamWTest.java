package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.testing.TestMatrices;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {

  private static LoraPair scalars(double a, double b) {
    return new LoraPair(TestMatrices.of(1, 1, a), TestMatrices.of(1, 1, b));
  }

  @Test
  void twoStepsMatchTorchAdamWByHand() {
    // lr 0.1, wd 0.1, betas (0.9, 0.999), eps 1e-8, bias correction on; A = 1 with grads 0.5 then -0.25.
    // step 1: A *= 1 - 0.01 -> 0.99; m = 0.05, v = 0.00025; bc1 = 0.1, bc2 = 0.001
    //         denom = sqrt(0.00025)/sqrt(0.001) + eps = 0.5 + 1e-8; A -= (0.1/0.1) * 0.05/denom -> 0.890000002
    // step 2: A *= 0.99 -> 0.88110000198; m = 0.045 - 0.025 = 0.02; v = 0.00024975 + 0.0000625 = 0.00031225
    //         bc1 = 0.19, bc2 = 0.001999; denom = sqrt(0.00031225/0.001999) = 0.3952247...
    //         A -= (0.1/0.19) * 0.02/denom = 0.0266337... -> 0.8544662987
    // B = 1 with zero grads only decays: 0.99^2 = 0.9801 (Adam's 0/(0+eps) moves nothing).
    AdamW opt = new AdamW(OptimizerConfig.defaults(0.1).withWeightDecay(0.1));
    LoraPair p = scalars(1, 1);
    opt.step(List.of(p), List.of(scalars(0.5, 0)));
    assertEquals(0.890000002, p.a().get(0, 0), 1e-12); // hand arithmetic carried to 1e-12
    opt.step(List.of(p), List.of(scalars(-0.25, 0)));
    assertEquals(0.8544662986878463, p.a().get(0, 0), 1e-12);
    assertEquals(0.9801, p.b().get(0, 0), 1e-15);
    assertEquals(2, opt.steps());
  }

  @Test
  void biasCorrectionSwitchChangesTheFirstSteps() {
    // constant grad g = 2: with correction every step moves lr*|g|/(|g| + eps) ~ lr;
    // without it step 1 moves lr*0.1g/(sqrt(0.001)|g| + eps) ~ 3.16228 lr and step 2
    // lr*0.19g/(sqrt(0.001999)|g| + eps) ~ 4.24959 lr
    LoraPair on = scalars(0, 0);
    LoraPair off = scalars(0, 0);
    AdamW withBias = new AdamW(OptimizerConfig.defaults(0.01));
    AdamW without = new AdamW(OptimizerConfig.defaults(0.01).withBiasCorrection(false));
    for (int t = 0; t < 2; t++) {
      withBias.step(List.of(on), List.of(scalars(2, 0)));
      without.step(List.of(off), List.of(scalars(2, 0)));
    }
    double eps = 1e-8;
    assertEquals(-0.02 * 2 / (2 + eps), on.a().get(0, 0), 1e-15);
    double step1 = 0.1 * 2 / (Math.sqrt(0.001) * 2 + eps);
    double step2 = 0.19 * 2 / (Math.sqrt(0.001999) * 2 + eps);
    assertEquals(-0.01 * (step1 + step2), off.a().get(0, 0), 1e-15); // rounding of v = b2*v + (1-b2)*g^2 only
  }

  @Test
  void loraPlusRatioMultipliesOnlyTheLearningRateOfB() {
    AdamW opt = new AdamW(OptimizerConfig.defaults(0.001).withLoraPlusRatio(16));
    LoraPair p = scalars(0, 0);
    LoraOptimizer.StepInfo info = opt.step(List.of(p), List.of(scalars(1, 1)));
    assertEquals(0.016, info.lrB(), 1e-18);
    assertEquals(-0.001 / (1 + 1e-8), p.a().get(0, 0), 1e-18); // first corrected step: lr*g/(|g| + eps)
    assertEquals(-0.016 / (1 + 1e-8), p.b().get(0, 0), 1e-17);
  }
}
