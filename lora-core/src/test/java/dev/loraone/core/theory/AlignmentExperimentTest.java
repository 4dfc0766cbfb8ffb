package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AlignmentExperimentTest {
  private static AlignmentExperiment.Result result;

  @BeforeAll
  static void runPaperSetup() {
    result = AlignmentExperiment.run(AlignmentExperiment.Config.paper(), 0);
  }

  private static AlignmentExperiment.Run run(double variance) {
    return result.runs().stream().filter(r -> r.variance() == variance).findFirst().orElseThrow();
  }

  @Test
  void everyRunStartsAtHalfTheSquaredNormOfDelta() {
    // B = 0, Delta has four unit singular values: risk = 4 / 2
    for (AlignmentExperiment.Run r : result.runs()) assertEquals(2.0, r.risk()[0], 1e-12);
  }

  @Test
  void smallInitVariancesDriveTheRiskBelow1e6In1500Steps() {
    // reference 5.4 (numpy): 7e-8 at var 1e-2 and 2e-11 at var 1e-4
    assertTrue(run(1e-2).finalRisk() < 1e-6, "var 1e-2: " + run(1e-2).finalRisk());
    assertTrue(run(1e-4).finalRisk() < 1e-9, "var 1e-4: " + run(1e-4).finalRisk());
  }

  @Test
  void riskFallsOverTheRunForEveryVariance() {
    for (AlignmentExperiment.Run r : result.runs()) {
      assertTrue(r.risk()[750] < r.risk()[0] && r.finalRisk() < r.risk()[0], "var " + r.variance());
    }
  }

  @Test
  void smallerInitVarianceEndsWithSmallerAlignmentAngle() {
    double large = run(1.0).finalAngle();
    double mid = run(1e-2).finalAngle();
    double small = run(1e-4).finalAngle();
    assertTrue(large > mid && mid > small, large + " > " + mid + " > " + small);
    // reference 5.4 (numpy): 0.49 at var 1e-2 and 0.28 at var 1e-4
    assertTrue(small < 0.4, "var 1e-4 angle " + small);
  }

  @Test
  void randomInitStartsUnaligned() {
    for (AlignmentExperiment.Run r : result.runs()) assertTrue(r.angle()[0] > 0.9, "var " + r.variance());
  }

  @Test
  void bothClaimsHold() {
    result.claims().forEach(c -> assertTrue(c.holds(), c.statement() + ": " + c.evidence()));
  }
}
