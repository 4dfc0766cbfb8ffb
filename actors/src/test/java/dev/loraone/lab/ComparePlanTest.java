package dev.loraone.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.lab.ComparePlan.PlannedRun;
import dev.loraone.protocol.job.JobSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The jobs {@code loraone compare} plans: the base job with each method's keys, seed, name and eval cadence. */
class ComparePlanTest {
  private static final JobSpec BUILT_IN = JobSpec.parseString(ComparePlan.BUILT_IN, "built-in");

  @Test
  void everyRunIsTheBaseJobWithItsMethodsKeysAndSeed() {
    List<PlannedRun> runs = ComparePlan.runs(BUILT_IN,
        List.of(ComparePlan.method("lora-ga"), ComparePlan.method("head-only")), List.of(0L, 7L), 12);
    assertEquals(List.of("lora-ga@0", "head-only@0", "lora-ga@7", "head-only@7"),
        runs.stream().map(r -> r.method().key() + "@" + r.seed()).toList(), "seed-major");
    JobSpec ga = runs.get(2).spec();
    assertEquals("compare-wordnet-lora-ga-s7", ga.getString("name"));
    assertEquals(7, ga.getLong("seed"));
    assertEquals("lora-ga", ga.getString("init.method"));
    assertEquals("exact", ga.getString("init.mode"), "LoRA-GA's SVD is exact");
    assertEquals("adamw", ga.getString("optimizer.name"));
    assertEquals(12, ga.getInt("eval.every"));
    assertEquals(false, ga.getBoolean("export.onnx"));
    assertEquals(120, ga.getInt("train.steps"), "the base job's keys stay");
    assertEquals(1000000, ga.getInt("eval.examples"));
    assertEquals("none", runs.get(1).spec().getString("lora.targets"));
    assertEquals("all-linear", ga.getString("lora.targets"));
  }

  @Test
  void longJobNamesAreCutSoTheRunNameFits() {
    JobSpec base = ComparePlan.withKeys(BUILT_IN, Map.of("name", "n".repeat(64)));
    String name = ComparePlan.runs(base, List.of(ComparePlan.method("lora-one-scaled")), List.of(123L), 1).get(0)
        .name();
    assertEquals(64, name.length());
    assertTrue(name.endsWith("-lora-one-scaled-s123"), name);
  }

  @Test
  void evalCadenceGivesAtLeastTenPointsUnlessSetExplicitly() {
    assertEquals(12, ComparePlan.evalEvery(BUILT_IN, null), "120 steps; the default eval.every 50 gives 2 points");
    assertEquals(5, ComparePlan.evalEvery(ComparePlan.withKeys(BUILT_IN, Map.of("eval.every", 5)), null),
        "24 points: kept");
    assertEquals(1, ComparePlan.evalEvery(ComparePlan.withKeys(BUILT_IN, Map.of("train.steps", 3)), null));
    assertEquals(40, ComparePlan.evalEvery(BUILT_IN, 40));
    assertThrows(IllegalArgumentException.class, () -> ComparePlan.evalEvery(BUILT_IN, 0));
  }

  @Test
  void headOnlyIsRefusedWithoutAClassificationHead() {
    List<CompareResults.Method> methods = List.of(ComparePlan.method("lora"), ComparePlan.method("head-only"));
    ComparePlan.checkMethods(methods, "classification");
    ComparePlan.checkMethods(methods, null);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ComparePlan.checkMethods(methods, "causal-lm"));
    assertTrue(e.getMessage().contains("head-only"), e.getMessage());
  }
}
