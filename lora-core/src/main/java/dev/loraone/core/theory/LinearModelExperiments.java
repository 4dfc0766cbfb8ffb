package dev.loraone.core.theory;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The LoRA-One paper's linear-model experiments (reference 5.2), run together from one seed:
 * (a) {@link AlignmentExperiment}, (b) {@link InitComparisonExperiment}, (c)
 * {@link ConditioningExperiment}. Everything is double precision and deterministic for a seed;
 * the full set takes a few seconds on one core.
 */
public final class LinearModelExperiments {
  private LinearModelExperiments() {}

  /** The experiments by their letter in the paper-reproduction notes. */
  public enum Experiment {
    A, B, C;

    /** {@code a}, {@code b}, {@code c} or {@code all} (any case). */
    public static Set<Experiment> parse(String name) {
      String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
      return switch (key) {
        case "a" -> EnumSet.of(A);
        case "b" -> EnumSet.of(B);
        case "c" -> EnumSet.of(C);
        case "all" -> EnumSet.allOf(Experiment.class);
        default -> throw new IllegalArgumentException("unknown experiment '" + name + "': expected a, b, c or all");
      };
    }
  }

  /** Which experiments to run, the seed, and each experiment's setup. */
  public record Settings(
      Set<Experiment> experiments, long seed, AlignmentExperiment.Config alignment,
      InitComparisonExperiment.Config initComparison, ConditioningExperiment.Config conditioning) {
    public Settings {
      if (experiments.isEmpty()) throw new IllegalArgumentException("no experiment selected");
      experiments = Set.copyOf(experiments);
    }

    /** The paper's setups for the chosen experiments. */
    public static Settings paper(Set<Experiment> experiments, long seed) {
      return new Settings(
          experiments,
          seed,
          AlignmentExperiment.Config.paper(),
          InitComparisonExperiment.Config.paper(),
          ConditioningExperiment.Config.paper());
    }
  }

  /** The results of the experiments that ran; the others are null. */
  public record Report(
      long seed, AlignmentExperiment.Result alignment, InitComparisonExperiment.Result initComparison,
      ConditioningExperiment.Result conditioning) {

    /** Every checked claim, in experiment order. */
    public List<Claim> claims() {
      List<Claim> all = new ArrayList<>();
      if (alignment != null) all.addAll(alignment.claims());
      if (initComparison != null) all.addAll(initComparison.claims());
      if (conditioning != null) all.addAll(conditioning.claims());
      return all;
    }

    public boolean allClaimsHold() {
      return claims().stream().allMatch(Claim::holds);
    }
  }

  public static Report run(Settings settings) {
    Set<Experiment> which = settings.experiments();
    long seed = settings.seed();
    return new Report(
        seed,
        which.contains(Experiment.A) ? AlignmentExperiment.run(settings.alignment(), seed) : null,
        which.contains(Experiment.B) ? InitComparisonExperiment.run(settings.initComparison(), seed) : null,
        which.contains(Experiment.C) ? ConditioningExperiment.run(settings.conditioning(), seed) : null);
  }
}
