package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConditioningExperimentTest {
  private static List<ConditioningExperiment.Row> rows;

  @BeforeAll
  static void runPaperSetup() {
    rows = ConditioningExperiment.run(ConditioningExperiment.Config.paper(), 0).rows();
  }

  @Test
  void spectrumRunsGeometricallyFromOneToOneOverKappa() {
    assertArrayEquals(new double[] {1, 0.1, 0.01}, ConditioningExperiment.geometricSpectrum(3, 100), 1e-15);
  }

  @Test
  void preconditionedGdNeedsAtMostTwiceTheStepsAtKappa100AsAtKappa1() {
    int easy = rows.get(0).preconditionedSteps();
    int hard = rows.get(2).preconditionedSteps();
    assertTrue(easy > 0 && hard > 0, easy + ", " + hard);
    assertTrue(hard <= 2 * easy, "kappa 100: " + hard + " steps, kappa 1: " + easy);
  }

  @Test
  void plainGdNeedsAtLeastFiveTimesTheStepsAtKappa100AsAtKappa1() {
    int easy = rows.get(0).plainSteps();
    int hard = rows.get(2).plainSteps();
    assertTrue(easy > 0, "kappa 1 not reached");
    assertTrue(hard < 0 || hard >= 5 * easy, "kappa 100: " + hard + " steps, kappa 1: " + easy);
  }

  @Test
  void plainGdStepsGrowWithKappa() {
    assertTrue(
        rows.get(0).plainSteps() < rows.get(1).plainSteps()
            && rows.get(1).plainSteps() < rows.get(2).plainSteps());
  }
}
