package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NodeMemoryTest {
  @Test
  void sizesAutoAndBadValues() {
    assertEquals(6L << 30, NodeMemory.parse("6GiB"));
    assertEquals(1500L << 20, NodeMemory.parse(" 1500MiB "));
    assertEquals(123456789L, NodeMemory.parse("123456789"));
    long auto = NodeMemory.parse("auto");
    assertEquals(auto, NodeMemory.parse(null));
    assertTrue(auto > 0 && auto <= 2 * Runtime.getRuntime().maxMemory(), "auto: " + auto);
    String bad = assertThrows(IllegalArgumentException.class, () -> NodeMemory.parse("lots")).getMessage();
    assertEquals("--memory 'lots': expected auto or a size such as 6GiB or 1500MiB", bad);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> NodeMemory.parse("0")).getMessage()
        .contains("above 0"));
    long physical = NodeMemory.physical();
    assertTrue(physical > 0, "physical memory unknown");
    String over = assertThrows(IllegalArgumentException.class, () -> NodeMemory.parse(Long.toString(physical + 1)))
        .getMessage();
    assertEquals("--memory '" + (physical + 1) + "': more than this machine's physical memory ("
        + NodeMemory.show(physical) + "); the scheduler would place jobs this node cannot hold", over);
    assertEquals(physical, NodeMemory.parse(Long.toString(physical)));
    assertEquals("1.5 GiB", NodeMemory.show(1536L << 20));
    assertEquals("640 MiB", NodeMemory.show(640L << 20));
  }
}
