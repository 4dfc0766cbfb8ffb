package dev.loraone.lab;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.core.theory.Claim;
import dev.loraone.core.theory.LinearModelExperiments;
import dev.loraone.core.theory.LinearModelExperiments.Experiment;
import dev.loraone.core.theory.LinearModelExperiments.Report;
import dev.loraone.core.theory.LinearModelExperiments.Settings;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code loraone theory}: reproduces the LoRA-One paper's linear-model experiments in double
 * precision (reference 5.2) and checks the paper's claims on them. The math lives in
 * {@code dev.loraone.core.theory}; this class parses options, validates them before any work, and
 * hands the report to a table, a JSON document or {@link TheoryChart}.
 *
 * <p>Exit code: 0 when every checked claim holds, 1 when one fails, 2 for bad input.
 */
@Command(
    name = "theory",
    mixinStandardHelpOptions = true,
    description = {
      "Reproduce the LoRA-One paper's linear-model experiments (double precision, deterministic per seed):",
      "  (a) random-init alignment under plain GD, for init variances 1, 1e-2, 1e-4;",
      "  (b) LoRA-One spectral init vs LoRA-GA-style vs default LoRA init, all with preconditioned GD;",
      "  (c) steps to risk <= 1e-10 for kappa(Delta) = 1, 10, 100, preconditioned vs plain GD.",
      "Prints a table with PASS/FAIL lines for the paper's claims; exit code 1 if a claim fails."
    })
public final class TheoryCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--experiment", defaultValue = "all", paramLabel = "a|b|c|all",
      description = "Which experiment to run (default: ${DEFAULT-VALUE}).")
  String experiment;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "N",
      description = "Seed for every random draw, >= 0 (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--json", description = "Print one JSON document (settings, claims, curves) instead of the table.")
  boolean json;

  @Option(names = "--plot", paramLabel = "FILE.png",
      description = "Also draw the curves into one PNG, one panel per plot: (a) risk, (a) angle, (b) risk, (c) steps.")
  Path plot;

  @Option(names = "--steps-a", defaultValue = "1500", paramLabel = "N",
      description = "Plain-GD steps in experiment (a) (default: ${DEFAULT-VALUE}).")
  int stepsA;

  @Option(names = "--steps-b", defaultValue = "100", paramLabel = "N",
      description = "Preconditioned-GD steps in experiment (b) (default: ${DEFAULT-VALUE}).")
  int stepsB;

  @Option(names = "--max-steps-c", defaultValue = "20000", paramLabel = "N",
      description = "Step cap in experiment (c); runs that hit it count as not reached (default: ${DEFAULT-VALUE}).")
  int maxStepsC;

  @Override
  public Integer call() {
    Settings settings = settings();
    if (plot != null) TheoryChart.checkWritable(plot);
    Report report = LinearModelExperiments.run(settings);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(toJson(settings, report));
    } else {
      TheoryTable.print(settings, report, out);
    }
    if (plot != null) {
      try {
        TheoryChart.write(report, plot);
      } catch (IOException e) {
        throw new UncheckedIOException("could not write the plot to " + plot, e);
      }
      if (!json) out.println("plot written to " + plot);
    }
    out.flush();
    return report.allClaimsHold() ? 0 : 1;
  }

  /** The validated settings; every problem is an {@link IllegalArgumentException} naming the option. */
  Settings settings() {
    Set<Experiment> which = Experiment.parse(experiment);
    if (seed < 0) throw new IllegalArgumentException("--seed must be >= 0, got " + seed);
    requirePositive("--steps-a", stepsA);
    requirePositive("--steps-b", stepsB);
    requirePositive("--max-steps-c", maxStepsC);
    Settings paper = Settings.paper(which, seed);
    return new Settings(which, seed, paper.alignment().withSteps(stepsA), paper.initComparison().withSteps(stepsB),
        paper.conditioning().withMaxSteps(maxStepsC));
  }

  private static void requirePositive(String option, int value) {
    if (value < 1) throw new IllegalArgumentException(option + " must be >= 1, got " + value);
  }

  /** One document: the settings, a claims summary, then each experiment's result with its curves. */
  static String toJson(Settings settings, Report report) {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("seed", report.seed());
    doc.put(
        "experiments",
        settings.experiments().stream()
            .sorted()
            .map(e -> e.name().toLowerCase(Locale.ROOT))
            .toList());
    List<Claim> claims = report.claims();
    doc.put("allClaimsHold", report.allClaimsHold());
    doc.put("claims", claims);
    doc.put("a", report.alignment());
    doc.put("b", report.initComparison());
    doc.put("c", report.conditioning());
    try {
      return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("could not serialise the theory report", e);
    }
  }
}
