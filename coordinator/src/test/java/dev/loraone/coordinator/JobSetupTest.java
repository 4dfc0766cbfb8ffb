package dev.loraone.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JobSetupTest {
  private static final List<int[]> SHAPES = List.of(new int[] {4, 4}, new int[] {4, 4}, new int[] {4, 4});

  @Test
  void aMemoryBudgetForACoordinatorInitIsRefusedOnTheClusterNamingTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JobSetup.of(JobSpec.of(Map.of("init.method", "lora-one", "init.memory-budget", "2g"))));
    assertTrue(e.getMessage().contains("'job.init.memory-budget' = 2147483648"), e.getMessage());
  }

  @Test
  void aWorkerSideInitKeepsItsBudgetAndTheCoordinatorPlansOneGroup() {
    JobSetup ga = JobSetup.of(JobSpec.of(Map.of("init.method", "lora-ga", "init.memory-budget", "512m")));
    assertEquals(512L << 20, ga.initMemoryBudget());
    JobSetup one = JobSetup.of(JobSpec.of(Map.of("init.method", "lora-one")));
    assertEquals(0, one.initMemoryBudget());
    assertEquals(1, one.plan(true, 1, SHAPES).initGroups(), "budget 0: one group");
  }
}
