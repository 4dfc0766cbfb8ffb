package dev.loraone.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ScheduleTest {

  @Test
  void linearWarmsUpThenDecaysToZeroAtTotal() {
    Schedule s = Schedule.linear(10, 100);
    assertEquals(0.0, s.factor(0), 0.0);
    assertEquals(0.5, s.factor(5), 0.0);
    assertEquals(1.0, s.factor(10), 0.0);
    assertEquals(0.5, s.factor(55), 0.0); // (100 - 55) / 90
    assertEquals(0.0, s.factor(100), 0.0);
    assertEquals(0.0, s.factor(150), 0.0);
  }

  @Test
  void cosineWarmsUpThenFollowsHalfACosineToZero() {
    Schedule s = Schedule.cosine(10, 110);
    assertEquals(0.5, s.factor(5), 0.0);
    assertEquals(1.0, s.factor(10), 0.0);
    assertEquals(0.5 * (1 + Math.sqrt(0.5)), s.factor(35), 1e-15); // progress 0.25: cos(pi/4)
    assertEquals(0.5, s.factor(60), 1e-15);
    assertEquals(0.0, s.factor(110), 1e-15);
    assertEquals(0.0, s.factor(200), 0.0);
  }

  @Test
  void constantIsOneAndNamesResolve() {
    assertEquals(1.0, Schedule.constant().factor(12345), 0.0);
    assertEquals(Schedule.linear(3, 9), Schedule.forName("linear", 3, 9));
    assertEquals(Schedule.cosine(3, 9), Schedule.forName("COSINE", 3, 9));
    assertEquals(Schedule.constant(), Schedule.forName("constant", 0, 1));
  }

  @Test
  void badNamesAndStepCountsAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Schedule.forName("step", 0, 1));
    assertTrue(
        e.getMessage().contains("'step'") && e.getMessage().contains("constant, linear, cosine"),
        e.getMessage());
    IllegalArgumentException w = assertThrows(IllegalArgumentException.class, () -> Schedule.linear(20, 10));
    assertTrue(w.getMessage().contains("warmup steps=20") && w.getMessage().contains("[0, total=10]"), w.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Schedule.cosine(0, 0));
  }
}
