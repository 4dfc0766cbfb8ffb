package dev.loraone.lab;

import dev.loraone.core.theory.AlignmentExperiment;
import dev.loraone.core.theory.Claim;
import dev.loraone.core.theory.ConditioningExperiment;
import dev.loraone.core.theory.InitComparisonExperiment;
import dev.loraone.core.theory.LinearModelExperiments.Report;
import dev.loraone.core.theory.LinearModelExperiments.Settings;
import dev.loraone.core.theory.LinearTask;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.DoubleStream;

/** The human-readable report of {@code loraone theory}: one block per experiment, then the claims. */
final class TheoryTable {
  private TheoryTable() {}

  static void print(Settings settings, Report report, PrintWriter out) {
    out.printf(Locale.ROOT, "LoRA-One linear-model experiments, seed %d, double precision%n", report.seed());
    if (report.alignment() != null) alignment(report.alignment(), out);
    if (report.initComparison() != null) initComparison(report.initComparison(), out);
    if (report.conditioning() != null) conditioning(report.conditioning(), out);
    List<Claim> claims = report.claims();
    long held = claims.stream().filter(Claim::holds).count();
    out.printf(
        Locale.ROOT,
        "%nclaims: %d of %d hold%s%n",
        held,
        claims.size(),
        held == claims.size() ? "" : "  (FAIL)");
  }

  private static void alignment(AlignmentExperiment.Result result, PrintWriter out) {
    AlignmentExperiment.Config c = result.config();
    out.printf(Locale.ROOT, "%n(a) random-init alignment: %s, Delta singular values all 1%n", dims(c.dims()));
    out.printf(Locale.ROOT, "    init A ~ N(0, var), B = 0; plain GD, lr %s, %d steps%n", num(c.lr()), c.steps());
    out.printf(Locale.ROOT, "    angle = ||U_G[:, r*:]^T U_A[:, :r*]||_op%n");
    int[] at = checkpoints(c.steps(), 100, 500);
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "    %-9s", "init var"));
    for (int t : at) head.append(String.format(Locale.ROOT, " %11s", "risk@" + t));
    for (int t : new int[] {0, c.steps()}) head.append(String.format(Locale.ROOT, " %11s", "angle@" + t));
    out.println(head);
    for (AlignmentExperiment.Run run : result.runs()) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "    %-9s", sci(run.variance(), 0)));
      for (int t : at) row.append(String.format(Locale.ROOT, " %11s", sci(run.risk()[t], 2)));
      row.append(String.format(Locale.ROOT, " %11.3f %11.3f", run.angle()[0], run.finalAngle()));
      out.println(row);
    }
    claims(result.claims(), out);
  }

  private static void initComparison(InitComparisonExperiment.Result result, PrintWriter out) {
    InitComparisonExperiment.Config c = result.config();
    out.printf(
        Locale.ROOT,
        "%n(b) init comparison: %s, Delta singular values %s; one X, W0, Delta shared by all inits%n",
        dims(c.dims()),
        list(c.singularValues()));
    out.printf(Locale.ROOT, "    preconditioned GD, eta %s, lambda %s, %d steps; risk = 1/2 ||(W - W0) - Delta||_F^2%n",
        num(c.eta()), num(c.lambda()), c.steps());
    int[] at = checkpoints(c.steps(), 1, 10);
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "    %-44s", "init"));
    for (int t : at) head.append(String.format(Locale.ROOT, " %11s", "risk@" + t));
    head.append(String.format(Locale.ROOT, " %15s", "first <= " + sci(c.convergedRisk(), 0)));
    out.println(head);
    for (InitComparisonExperiment.Run run : result.runs()) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "    %-44s", run.method().label()));
      for (int t : at) row.append(String.format(Locale.ROOT, " %11s", sci(run.risk()[t], 2)));
      int first = run.firstStepAtOrBelow(c.convergedRisk());
      row.append(String.format(Locale.ROOT, " %15s", first < 0 ? "never" : "step " + first));
      out.println(row);
    }
    claims(result.claims(), out);
  }

  private static void conditioning(ConditioningExperiment.Result result, PrintWriter out) {
    ConditioningExperiment.Config c = result.config();
    out.printf(Locale.ROOT, "%n(c) condition-number sweep: %s, LoRA-One spectral init (gamma 1)%n", dims(c.dims()));
    out.printf(
        Locale.ROOT,
        "    steps until risk <= %s (cap %d); precGD eta %s, lambda %s; plain GD lr %s / sigma_1(G)%n",
        sci(c.threshold(), 0),
        c.maxSteps(),
        num(c.eta()),
        num(c.lambda()),
        num(c.plainLrScale()));
    out.printf(Locale.ROOT, "    %-7s %-26s %11s %13s %13s %10s%n",
        "kappa", "Delta singular values", "risk@0", "precGD steps", "GD steps", "GD lr");
    for (ConditioningExperiment.Row row : result.rows()) {
      out.printf(Locale.ROOT, "    %-7s %-26s %11s %13s %13s %10.4f%n", num(row.kappa()), list(row.singularValues()),
          sci(row.initialRisk(), 2), steps(row.preconditionedSteps(), c.maxSteps()),
          steps(row.plainSteps(), c.maxSteps()), row.plainLr());
    }
    claims(result.claims(), out);
  }

  private static void claims(List<Claim> claims, PrintWriter out) {
    for (Claim claim : claims) {
      out.printf(
          Locale.ROOT,
          "    %s  %s%n          %s%n",
          claim.holds() ? "PASS" : "FAIL",
          claim.statement(),
          claim.evidence());
    }
  }

  /** Step 0, the two given steps when inside the run, and the last step, ascending. */
  private static int[] checkpoints(int steps, int first, int second) {
    TreeSet<Integer> at = new TreeSet<>(List.of(0, steps));
    if (first < steps) at.add(first);
    if (second < steps) at.add(second);
    return at.stream().mapToInt(Integer::intValue).toArray();
  }

  private static String dims(LinearTask.Dims d) {
    return String.format(Locale.ROOT, "d=%d k=%d r=%d r*=%d N=%d", d.d(), d.k(), d.r(), d.rStar(), d.n());
  }

  private static String steps(int steps, int cap) {
    return steps < 0 ? "> " + cap : Integer.toString(steps);
  }

  private static String list(double[] values) {
    return DoubleStream.of(values).mapToObj(v -> num(Double.parseDouble(String.format(Locale.ROOT, "%.3g", v))))
        .collect(Collectors.joining(", "));
  }

  /** Up to six significant digits, without trailing zeros: 0.015625, 0.5, 100, 0.001. */
  private static String num(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e9) return Long.toString((long) v);
    String s = String.format(Locale.ROOT, "%.6g", v);
    int e = s.indexOf('e');
    String mantissa = e < 0 ? s : s.substring(0, e);
    if (mantissa.contains(".")) mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
    return mantissa + (e < 0 ? "" : s.substring(e));
  }

  private static String sci(double v, int digits) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + digits + "e", v) : Double.toString(v);
  }
}
