package dev.loraone.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.lab.CompareResults.Paired;
import dev.loraone.lab.CompareResults.Point;
import dev.loraone.lab.CompareResults.Report;
import dev.loraone.lab.CompareResults.Run;
import dev.loraone.lab.CompareResults.Speed;
import dev.loraone.lab.CompareResults.Stat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The statistics of {@code loraone compare} on hand-computed numbers. */
class CompareResultsTest {
  /** Sums of a few doubles: the hand-computed values are exact decimals, the doubles not quite. */
  private static final double EPS = 1e-12;

  /** A run evaluated at steps 10, 20, 30 with these eval losses; the final evaluation has {@code metric = value}. */
  private static Run run(String method, long seed, double[] losses, String metric, double value) {
    List<Point> evals = new ArrayList<>();
    for (int i = 0; i < losses.length; i++) {
      Map<String, Double> metrics = Map.of(metric, i == losses.length - 1 ? value : 0.0);
      evals.add(new Point(10 * (i + 1), losses[i], metrics));
    }
    return new Run(method, seed, method + "-s" + seed, evals, 100, List.of(), 1, 2, 3, "sha", 1, null);
  }

  private static Run accuracy(String method, long seed, double acc) {
    return run(method, seed, new double[] {2, 1.5, 1}, "accuracy", acc);
  }

  @Test
  void statIsMeanSampleStdMinAndMax() {
    Stat s = Stat.of(1, 2, 3, 6);
    assertEquals(3, s.mean(), EPS);
    assertEquals(Math.sqrt(14.0 / 3), s.std(), EPS, "squares of deviations 4 + 1 + 0 + 9 over n - 1 = 3");
    assertEquals(1, s.min());
    assertEquals(6, s.max());
    assertEquals(0, Stat.of(5).std(), "one value: no spread");
  }

  @Test
  void pairedAccuracyDifferencesGiveMeanStdTAndWins() {
    List<Run> runs = List.of(accuracy("lora", 0, 0.58), accuracy("lora", 1, 0.56), accuracy("lora", 2, 0.65),
        accuracy("lora-one", 0, 0.60), accuracy("lora-one", 1, 0.55), accuracy("lora-one", 2, 0.70));
    Paired p = CompareResults.paired("lora-one", "accuracy", runs, "lora");
    assertEquals(List.of(0L, 1L, 2L), p.seeds());
    assertEquals(0.02, p.diffs().get(0), EPS);
    assertEquals(-0.01, p.diffs().get(1), EPS);
    assertEquals(0.05, p.diffs().get(2), EPS);
    assertEquals(0.02, p.diff().mean(), EPS);
    assertEquals(0.03, p.diff().std(), EPS, "deviations 0, -0.03, 0.03: sqrt(0.0018 / 2)");
    double t = 0.02 / (0.03 / Math.sqrt(3));
    assertEquals(t, p.t(), 1e-9);
    assertEquals(1 - t / Math.sqrt(2 + t * t), p.p(), 1e-9, "Student, 2 degrees of freedom: p = 1 - t / sqrt(2 + t^2)");
    assertEquals(2, p.wins());
    assertEquals(0, p.ties());
    assertEquals(1, p.losses());
  }

  @Test
  void lowerPerplexityWinsAndAFailedRunIsNotPaired() {
    double[] loss = {3};
    List<Run> runs = List.of(run("lora", 0, loss, "perplexity", 11), run("lora", 1, loss, "perplexity", 12),
        run("lora-one", 0, loss, "perplexity", 10), run("lora-one", 1, loss, "perplexity", 12),
        run("lora", 2, loss, "perplexity", 9), Run.failed("lora-one", 2, "x", 1, 3, "step 3: loss is NaN"));
    Paired p = CompareResults.paired("lora-one", "perplexity", runs, "lora");
    assertEquals(List.of(0L, 1L), p.seeds(), "seed 2 failed for lora-one");
    assertEquals(-0.5, p.diff().mean(), EPS);
    assertEquals(Math.sqrt(0.5), p.diff().std(), EPS);
    assertEquals(-1.0, p.t(), 1e-9, "-0.5 / (sqrt(0.5) / sqrt(2))");
    assertEquals(0.5, p.p(), 1e-9, "Student, 1 degree of freedom: p = 1 - 2 atan(1) / pi");
    assertEquals(1, p.wins(), "10 < 11: lower perplexity is better");
    assertEquals(1, p.ties());
    assertEquals(0, p.losses());
  }

  @Test
  void twoSidedPMatchesStudentQuantiles() {
    // two-sided 5% critical values of Student's t (standard tables)
    assertEquals(0.05, CompareResults.twoSidedP(12.706205, 1), 2e-6);
    assertEquals(0.05, CompareResults.twoSidedP(4.302653, 2), 2e-6);
    assertEquals(0.05, CompareResults.twoSidedP(3.182446, 3), 2e-6);
    assertEquals(0.05, CompareResults.twoSidedP(2.776445, 4), 2e-6);
    assertEquals(0.05, CompareResults.twoSidedP(2.570582, 5), 2e-6);
    assertEquals(0.05, CompareResults.twoSidedP(-2.446912, 6), 2e-6);
    assertEquals(0.01, CompareResults.twoSidedP(3.249836, 9), 2e-6);
    assertEquals(1, CompareResults.twoSidedP(0, 4), EPS);
    assertEquals(0, CompareResults.twoSidedP(Double.POSITIVE_INFINITY, 4));
    assertTrue(Double.isNaN(CompareResults.twoSidedP(1, 0)), "one seed: no test");
    assertTrue(Double.isNaN(CompareResults.tStatistic(Stat.of(0.1))));
    assertEquals(Double.NEGATIVE_INFINITY, CompareResults.tStatistic(Stat.of(-0.1, -0.1)), "one difference, n seeds");
  }

  @Test
  void stepsToReachLorasFinalEvalLossOnTheMeanCurveAndPerSeed() {
    List<Run> runs = List.of(run("lora", 0, new double[] {2.0, 1.5, 1.2}, "accuracy", 0.5),
        run("lora", 1, new double[] {2.2, 1.6, 1.0}, "accuracy", 0.5),
        run("lora-one", 0, new double[] {1.8, 1.1, 1.0}, "accuracy", 0.5),
        run("lora-one", 1, new double[] {1.9, 1.0, 0.9}, "accuracy", 0.5),
        run("pissa", 0, new double[] {2.5, 2.4, 2.3}, "accuracy", 0.5),
        run("pissa", 1, new double[] {2.5, 2.4, 2.3}, "accuracy", 0.5));
    Report r = CompareResults.report(Map.of(), List.of(ComparePlan.method("lora"), ComparePlan.method("lora-one"),
        ComparePlan.method("pissa")), runs, List.of(), 0);
    assertEquals("accuracy", r.headline());
    Speed lora = r.speed().get(0);
    Speed one = r.speed().get(1);
    Speed pissa = r.speed().get(2);
    assertEquals(1.1, lora.target(), EPS, "LoRA's mean final eval loss (1.2 + 1.0) / 2");
    assertEquals(30, lora.step(), "LoRA's mean curve 2.1, 1.55, 1.1");
    assertEquals(20, one.step(), "LoRA-One's mean curve 1.85, 1.05, 0.95");
    assertEquals(1.5, one.speedup(), EPS, "30 / 20");
    assertEquals(List.of(20, 20), one.seedSteps(), "seed 0: 1.1 <= 1.2; seed 1: 1.0 <= 1.0");
    assertEquals(2, one.reached());
    assertEquals(-1, pissa.step());
    assertTrue(Double.isNaN(pissa.speedup()));
    assertEquals(List.of(-1, -1), pissa.seedSteps());
    assertEquals(0, pissa.reached());
    assertEquals(2, r.paired().size(), "every method but the baseline");
    assertEquals(-0.15, r.pairedLoss().get(0).diff().mean(), EPS, "final eval loss: (1.0 - 1.2 + 0.9 - 1.0) / 2");
    assertEquals(2, r.pairedLoss().get(0).wins());
  }

  @Test
  void headlineIsTheTasksMetric() {
    assertEquals("accuracy", CompareResults.headline(Map.of("accuracy", 0.5)));
    assertEquals("perplexity", CompareResults.headline(Map.of("perplexity", 9.0, "exact_match", 0.1, "tokens", 40.0)));
    assertEquals("recall@1", CompareResults.headline(Map.of("recall@1", 0.3, "recall@10", 0.7, "mrr@10", 0.4)));
    assertEquals("loss", CompareResults.headline(Map.of()));
    assertTrue(CompareResults.lowerIsBetter("perplexity"));
    assertTrue(!CompareResults.lowerIsBetter("recall@1"));
  }
}
