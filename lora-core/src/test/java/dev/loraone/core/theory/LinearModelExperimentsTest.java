package dev.loraone.core.theory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.theory.LinearModelExperiments.Experiment;
import dev.loraone.core.theory.LinearModelExperiments.Report;
import dev.loraone.core.theory.LinearModelExperiments.Settings;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LinearModelExperimentsTest {

  /** The paper setups, with (a) shortened: determinism does not need 1500 steps. */
  private static Report run(long seed) {
    Settings paper = Settings.paper(EnumSet.allOf(Experiment.class), seed);
    return LinearModelExperiments.run(new Settings(paper.experiments(), seed, paper.alignment().withSteps(200),
        paper.initComparison(), paper.conditioning()));
  }

  @Test
  void sameSeedGivesBitIdenticalResults() {
    Report first = run(4);
    Report second = run(4);
    for (int i = 0; i < first.alignment().runs().size(); i++) {
      assertArrayEquals(first.alignment().runs().get(i).risk(), second.alignment().runs().get(i).risk());
      assertArrayEquals(first.alignment().runs().get(i).angle(), second.alignment().runs().get(i).angle());
    }
    for (int i = 0; i < first.initComparison().runs().size(); i++) {
      assertArrayEquals(first.initComparison().runs().get(i).risk(), second.initComparison().runs().get(i).risk());
    }
    for (int i = 0; i < first.conditioning().rows().size(); i++) {
      ConditioningExperiment.Row a = first.conditioning().rows().get(i);
      ConditioningExperiment.Row b = second.conditioning().rows().get(i);
      assertEquals(a.initialRisk(), b.initialRisk());
      assertEquals(a.plainLr(), b.plainLr());
      assertEquals(a.preconditionedSteps(), b.preconditionedSteps());
      assertEquals(a.plainSteps(), b.plainSteps());
    }
    assertEquals(first.claims(), second.claims());
  }

  @Test
  void differentSeedsDrawDifferentTasks() {
    Settings s0 = Settings.paper(Set.of(Experiment.B), 0);
    Settings s1 = Settings.paper(Set.of(Experiment.B), 1);
    double r0 = LinearModelExperiments.run(s0).initComparison().runs().get(0).risk()[0];
    double r1 = LinearModelExperiments.run(s1).initComparison().runs().get(0).risk()[0];
    assertFalse(r0 == r1);
  }

  @Test
  void onlyTheSelectedExperimentsRun() {
    Report report = LinearModelExperiments.run(Settings.paper(Experiment.parse("b"), 0));
    assertNull(report.alignment());
    assertNull(report.conditioning());
    assertEquals(2, report.claims().size());
    assertTrue(report.allClaimsHold());
  }

  @Test
  void parseAcceptsLettersAndAllAndRejectsTheRest() {
    assertEquals(EnumSet.of(Experiment.C), Experiment.parse("C"));
    assertEquals(EnumSet.allOf(Experiment.class), Experiment.parse("all"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Experiment.parse("d"));
    assertTrue(e.getMessage().contains("a, b, c or all"), e.getMessage());
  }
}
