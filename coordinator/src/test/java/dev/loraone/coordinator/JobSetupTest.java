package dev.loraone.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loraone.protocol.job.JobSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JobSetupTest {
  // 8 x 4 x 4 x 4 shards = 512 bytes of sums per module
  private static final List<int[]> SHAPES = List.of(new int[] {4, 4}, new int[] {4, 4}, new int[] {4, 4});

  @Test
  void theCoordinatorPlansTheModuleGroupsOfTheBudget() {
    JobSetup unbounded = JobSetup.of(JobSpec.of(Map.of("init.method", "lora-one", "init.shards", 4)));
    assertEquals(0, unbounded.initMemoryBudget());
    assertEquals(1, unbounded.plan(true, 1, SHAPES).initGroups(), "budget 0: one group");
    JobSetup two = JobSetup.of(JobSpec.of(Map.of("init.shards", 4, "init.memory-budget", 1024)));
    assertEquals(2, two.plan(true, 1, SHAPES).initGroups(), "two modules fit 1024 bytes");
    JobSetup kib = JobSetup.of(JobSpec.of(Map.of("init.shards", 4, "init.memory-budget", "1k")));
    assertEquals(1024, kib.initMemoryBudget(), "a HOCON size");
  }
}
