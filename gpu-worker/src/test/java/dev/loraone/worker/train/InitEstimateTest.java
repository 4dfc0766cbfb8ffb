package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.init.InitGroups;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The heap check of the gradient estimate: a pass holds its group's float64 sums over every shard and
 * one module's float gradient at once, so a heap below that is refused before any gradient, naming
 * the group, the sizes, -Xmx and init.memory-budget; a heap of exactly that passes.
 */
class InitEstimateTest {
  // [out, in] = [4, 8], [16, 8], [4, 8]; with 2 shards the sums are 512, 2048 and 512 bytes
  private static final List<EngineLayout.ModuleShape> MODULES = List.of(
      new EngineLayout.ModuleShape("a", 4, 8),
      new EngineLayout.ModuleShape("b", 16, 8),
      new EngineLayout.ModuleShape("c", 4, 8));

  @Test
  void aHeapBelowAGroupsSumsAndOneGradientIsRefusedNamingTheKeyAndXmx() {
    List<InitGroups.Group> groups = InitEstimate.groups(MODULES, 2, 2560);
    assertEquals(List.of(new InitGroups.Group(0, 0, 2), new InitGroups.Group(1, 2, 3)), groups);
    // group 1: a's and b's sums over 2 shards (4 arrays), b's float gradient, each array with its 16-byte header
    long need = 512 + 2048 + 4L * 16 * 8 + 16 * 5;
    InitEstimate.requireHeap(MODULES, groups, 2, need);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> InitEstimate.requireHeap(MODULES, groups, 2, need - 1));
    for (String part : List.of("module group 1 of 2", "2,560 bytes", "512 bytes", "3,152 bytes", "3,151 bytes",
        "-Xmx", "init.memory-budget")) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }

  /** Llama-3.2-1B's adapted shapes (all linear) at init.memory-budget = 2g, 1 shard: 4 groups, -Xmx2g refused. */
  @Test
  void aLlama1bInitAtBudget2gIsRefusedAtXmx2gAndFitsAt2500m() {
    List<EngineLayout.ModuleShape> modules = new ArrayList<>();
    int[][] layer = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};
    for (int l = 0; l < 16; l++) {
      for (int[] shape : layer) modules.add(new EngineLayout.ModuleShape("m" + modules.size(), shape[0], shape[1]));
    }
    List<InitGroups.Group> groups = InitEstimate.groups(modules, 1, 2L << 30);
    assertEquals(4, groups.size());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> InitEstimate.requireHeap(modules, groups, 1, 2L << 30));
    assertTrue(e.getMessage().startsWith("module group 2 of 4 holds 2,080,374,784 bytes"), e.getMessage());
    InitEstimate.requireHeap(modules, groups, 1, 2500L << 20);
  }

  @Test
  void oneGroupIsNamedAsTheWholeEstimate() {
    List<InitGroups.Group> one = InitEstimate.groups(MODULES, 1, 0);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> InitEstimate.requireHeap(MODULES, one, 1, 1024));
    assertTrue(e.getMessage().startsWith("the gradient estimate holds 1,536 bytes"), e.getMessage());
    InitEstimate.requireHeap(MODULES, one, 1, 1536 + 512 + 16 * 4); // the sums, b's gradient, 4 headers: fits
  }
}
