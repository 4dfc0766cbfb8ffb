package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.loraone.core.init.InitGroups;
import dev.loraone.core.linalg.BufferMatrix;
import dev.loraone.worker.runtime.RuntimeInfo;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The memory check of the gradient estimate: a pass holds its group's float64 sums over every shard and
 * one module's float gradient at once in native memory, so a machine with less than that is refused
 * before any gradient, naming the group, the sizes and init.memory-budget; exactly that passes.
 */
class InitEstimateTest {
  // [out, in] = [4, 8], [16, 8], [4, 8]; with 2 shards the sums are 512, 2048 and 512 bytes
  private static final List<EngineLayout.ModuleShape> MODULES = List.of(
      new EngineLayout.ModuleShape("a", 4, 8),
      new EngineLayout.ModuleShape("b", 16, 8),
      new EngineLayout.ModuleShape("c", 4, 8));

  @Test
  void aMachineBelowAGroupsSumsAndOneGradientIsRefusedNamingTheKey() {
    List<InitGroups.Group> groups = InitEstimate.groups(MODULES, 2, 2560);
    assertEquals(List.of(new InitGroups.Group(0, 0, 2), new InitGroups.Group(1, 2, 3)), groups);
    // group 1: a's and b's sums over 2 shards (4 arrays) and b's float gradient
    long need = 512 + 2048 + 4L * 16 * 8;
    InitEstimate.requireMemory(MODULES, groups, 2, need);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> InitEstimate.requireMemory(MODULES, groups, 2, need - 1));
    for (String part : List.of("module group 1 of 2", "2,560 bytes", "512 bytes", "3,072 bytes", "3,071 bytes",
        "native memory", "init.memory-budget")) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }

  /** Llama-3.2-1B's adapted shapes (all linear) at init.memory-budget = 2g, 1 shard: 4 groups, 2 GiB too little. */
  @Test
  void aLlama1bInitAtBudget2gNeedsMoreThan2GiB() {
    List<EngineLayout.ModuleShape> modules = new ArrayList<>();
    int[][] layer = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};
    for (int l = 0; l < 16; l++) {
      for (int[] shape : layer) modules.add(new EngineLayout.ModuleShape("m" + modules.size(), shape[0], shape[1]));
    }
    List<InitGroups.Group> groups = InitEstimate.groups(modules, 1, 2L << 30);
    assertEquals(4, groups.size());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> InitEstimate.requireMemory(modules, groups, 1, (2L << 30) - 1));
    assertTrue(e.getMessage().startsWith("module group 2 of 4 holds 2,080,374,784 bytes"), e.getMessage());
    InitEstimate.requireMemory(modules, groups, 1, 2L << 30); // its sums and one 64 MiB gradient: exactly 2 GiB
    assertTrue(RuntimeInfo.physicalMemory() > 1L << 30, "this machine's memory: " + RuntimeInfo.physicalMemory());
  }

  @Test
  void oneGroupIsNamedAsTheWholeEstimate() {
    List<InitGroups.Group> one = InitEstimate.groups(MODULES, 1, 0);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> InitEstimate.requireMemory(MODULES, one, 1, 1024));
    assertTrue(e.getMessage().startsWith("the gradient estimate holds 1,536 bytes"), e.getMessage());
    InitEstimate.requireMemory(MODULES, one, 1, 1536 + 512); // the sums and b's gradient: fits
  }

  /** Sums packed into slabs: each module's view is its own zeroed entries, also across a slab's end. */
  @Test
  void packedSumsAreZeroedAndDisjoint() {
    try (NDManager arrays = NDManager.newBaseManager(Device.cpu())) {
      // slabs of 64 entries: a, then b alone (128, larger than a slab), then c
      Map<String, BufferMatrix> sums = InitEstimate.allocate(arrays, MODULES, 64);
      assertEquals(List.of("a", "b", "c"), List.copyOf(sums.keySet()));
      int k = 0;
      for (BufferMatrix m : sums.values()) {
        assertEquals(m.rows() * m.cols(), m.data().limit());
        for (int j = 0; j < m.data().limit(); j++) {
          assertEquals(0.0, m.data().get(j), 0.0);
          m.data().put(j, ++k);
        }
      }
      k = 0;
      for (BufferMatrix m : sums.values()) {
        for (int j = 0; j < m.data().limit(); j++) assertEquals(++k, m.data().get(j), 0.0, "entry " + j);
      }
      Map<String, BufferMatrix> one = InitEstimate.allocate(arrays, MODULES, 1 << 20); // one slab for all three
      one.get("b").data().put(0, 7.0);
      assertEquals(0.0, one.get("a").data().get(31), 0.0);
      assertEquals(0.0, one.get("c").data().get(0), 0.0);
    }
  }

  /** The native add is Java's float64 sum of float32 gradients, bit for bit (signed zeros, subnormals too). */
  @Test
  void addingAGradientIsJavasFloat64Sum() {
    float[] g = {1.5f, -0.0f, Float.MIN_VALUE, 3.4e38f, 1e-7f, -2.25f};
    double[] expected = {0.1, 0.0, -1e-300, 1e300, 1e-7, 2.25};
    DoubleBuffer sum = DoubleBuffer.wrap(expected.clone());
    for (int j = 0; j < g.length; j++) expected[j] += g[j];
    InitEstimate.add(sum, FloatBuffer.wrap(g));
    for (int j = 0; j < g.length; j++) {
      assertEquals(Double.doubleToRawLongBits(expected[j]), Double.doubleToRawLongBits(sum.get(j)), "entry " + j);
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> InitEstimate.add(DoubleBuffer.allocate(3), FloatBuffer.allocate(2)));
    assertEquals("a gradient of 2 entries for a sum of 3", e.getMessage());
  }
}
