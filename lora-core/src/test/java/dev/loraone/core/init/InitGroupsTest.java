package dev.loraone.core.init;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class InitGroupsTest {
  private static final List<int[]> SHAPES =
      List.of(new int[] {4, 4}, new int[] {4, 4}, new int[] {8, 4}, new int[] {4, 4}, new int[] {2, 2});

  @Test
  void zeroBudgetIsOneGroupOfEveryModule() {
    assertEquals(List.of(new InitGroups.Group(0, 0, 5)), InitGroups.plan(SHAPES, 3, 0));
  }

  @Test
  void groupsAreContiguousAndFitTheBudget() {
    // bytes with 2 shards: 256, 256, 512, 256, 64
    assertEquals(
        List.of(new InitGroups.Group(0, 0, 2), new InitGroups.Group(1, 2, 3), new InitGroups.Group(2, 3, 5)),
        InitGroups.plan(SHAPES, 2, 512));
  }

  @Test
  void aModuleLargerThanTheBudgetIsAGroupOfItsOwn() {
    List<InitGroups.Group> g = InitGroups.plan(SHAPES, 2, 100);
    assertEquals(5, g.size());
    for (int i = 0; i < 5; i++) assertEquals(new InitGroups.Group(i, i, i + 1), g.get(i));
  }

  @Test
  void noModulesIsOneEmptyGroup() {
    assertEquals(List.of(new InitGroups.Group(0, 0, 0)), InitGroups.plan(List.of(), 1, 10));
  }

  @Test
  void negativeBudgetIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> InitGroups.plan(SHAPES, 1, -1));
  }
}
