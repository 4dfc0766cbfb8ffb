package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.theory.InitComparisonExperiment.Method;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class InitComparisonExperimentTest {
  private static InitComparisonExperiment.Result result;

  @BeforeAll
  static void runPaperSetup() {
    result = InitComparisonExperiment.run(InitComparisonExperiment.Config.paper(), 0);
  }

  @Test
  void spectralInitWithPreconditionedGdReachesRisk1e20Within100Steps() {
    InitComparisonExperiment.Run one = result.run(Method.LORA_ONE);
    int reached = one.firstStepAtOrBelow(1e-20);
    assertTrue(reached >= 0 && reached <= 100, "first step at or below 1e-20: " + reached);
  }

  @Test
  void spectralInitFollowsTheNumpyCheckRunShape() {
    // reference 5.4 (numpy, other RNG): 0.057 -> 6.4e-6 after 10 steps -> ~4e-28 after 100
    double[] risk = result.run(Method.LORA_ONE).risk();
    assertTrue(risk[0] > 0.02 && risk[0] < 0.2, "start " + risk[0]);
    assertTrue(risk[10] > 1e-7 && risk[10] < 1e-4, "step 10 " + risk[10]);
    assertTrue(risk[100] < 1e-24, "step 100 " + risk[100]);
  }

  @Test
  void loraGaStyleInitStallsAboveRisk1e3() {
    InitComparisonExperiment.Run ga = result.run(Method.LORA_GA);
    // the offset cancels the init: it starts at (1/2)||Delta||^2 = (1 + .5625 + .25 + .0625) / 2
    assertEquals(0.9375, ga.risk()[0], 1e-12);
    for (int t = 50; t <= 100; t++) assertTrue(ga.risk()[t] > 1e-3, "step " + t + ": " + ga.risk()[t]);
  }

  @Test
  void bothClaimsHold() {
    result.claims().forEach(c -> assertTrue(c.holds(), c.statement() + ": " + c.evidence()));
  }
}
