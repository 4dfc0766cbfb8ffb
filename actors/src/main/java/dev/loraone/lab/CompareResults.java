package dev.loraone.lab;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The data of {@code loraone compare}, as immutable records, and the pure aggregation over seeds
 * that the table, chart and JSON writers share. No DJL, no files: {@link CompareCommand} fills a
 * {@link Report}, the writers only read it.
 *
 * <pre>
 *   Run            one fine-tune: method x seed (x init batch), its eval curve and timings
 *   MethodSummary  one method over seeds: mean curve (with min/max per point), final accuracy/loss stats
 *   SweepRow       LoRA-One at one gradient-estimate size (initBatch x initIters examples), over seeds
 *   SubspaceRow    LoRA-One inits from two disjoint gradient batches of N examples: top-r agreement
 * </pre>
 */
final class CompareResults {
  private CompareResults() {}

  /**
   * A compared configuration: an init, an optimizer, what trains ({@code headOnly}: no adapters),
   * whether the head is warmed up (head-only steps) before the gradient estimate and init, and
   * whether it trains at the warm-up's lr instead of the common one (a head-only reference).
   */
  record Method(String key, String label, String init, String optimizer, boolean headOnly, boolean warmHead,
      boolean atHeadWarmupLr) {}

  /** One evaluation of one run. */
  record Point(int step, double accuracy, double loss) {}

  /**
   * One fine-tune. {@code wallSeconds} covers everything from loading to the last evaluation of the
   * last attempt; {@code attempts} > 1 when a non-finite gradient stopped an earlier attempt of the
   * same configuration; {@code failure} is the last error when every attempt failed (then no evals).
   */
  record Run(String method, long seed, int initBatch, int initIters, int evalExamples, List<Point> evals,
      List<Double> trainLoss, double initSeconds, double trainSeconds, double wallSeconds, int attempts, String failure) {
    Point last() {
      return evals.get(evals.size() - 1);
    }

    boolean ok() {
      return failure == null;
    }
  }

  /** Mean, sample standard deviation (0 for one value), min and max. */
  record Stat(double mean, double std, double min, double max, int n) {
    static Stat of(double... xs) {
      if (xs.length == 0) return new Stat(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
      double mean = Arrays.stream(xs).average().orElseThrow();
      double ss = 0;
      for (double x : xs) ss += (x - mean) * (x - mean);
      double std = xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0.0;
      return new Stat(mean, std, Arrays.stream(xs).min().orElseThrow(), Arrays.stream(xs).max().orElseThrow(), xs.length);
    }
  }

  /** One step of a mean curve: accuracy and loss over seeds. */
  record CurvePoint(int step, Stat accuracy, Stat loss) {}

  /** Statistics over the method's successful runs; {@code failedSeeds} lists the runs that failed every attempt. */
  record MethodSummary(Method method, List<Long> seeds, List<CurvePoint> curve, Stat finalAccuracy, Stat finalLoss,
      Stat wallSeconds, List<Long> failedSeeds) {}

  record SweepRow(int initBatch, int initIters, List<Long> seeds, Stat finalAccuracy, Stat finalLoss, Stat initSeconds) {
    int examples() {
      return initBatch * initIters;
    }
  }

  /**
   * Agreement of LoRA-One inits built from two disjoint gradient batches of {@code examples}
   * examples each, averaged over the adapted layers: {@code simU} compares the column spans of
   * B0 (top-r left singular vectors of -grad), {@code simV} the row spans of A0, both as
   * {@code ||Q1^T Q2||_F^2 / r}; {@code cosDeltaW} is the cosine of the two updates s*B0*A0.
   * {@code byType} holds the same three numbers per layer type (mean over layers).
   */
  record SubspaceRow(int examples, double simU, double simV, double cosDeltaW, double minSim, Map<String, double[]> byType) {}

  /** Everything one {@code loraone compare} produced. */
  record Report(Map<String, Object> settings, List<Method> methods, List<Run> runs, List<MethodSummary> summaries,
      List<SweepRow> sweep, List<SubspaceRow> subspaces, double totalSeconds) {}

  /** Groups runs by method (in {@code methods} order, only methods with runs) and averages over seeds per eval step. */
  static List<MethodSummary> summarize(List<Method> methods, List<Run> runs) {
    List<MethodSummary> out = new ArrayList<>();
    for (Method m : methods) {
      List<Run> mine = runs.stream().filter(r -> r.method().equals(m.key()) && r.ok()).toList();
      List<Long> failed = runs.stream().filter(r -> r.method().equals(m.key()) && !r.ok()).map(Run::seed).toList();
      if (mine.isEmpty()) continue;
      out.add(new MethodSummary(m, mine.stream().map(Run::seed).toList(), meanCurve(mine),
          Stat.of(mine.stream().mapToDouble(r -> r.last().accuracy()).toArray()),
          Stat.of(mine.stream().mapToDouble(r -> r.last().loss()).toArray()),
          Stat.of(mine.stream().mapToDouble(Run::wallSeconds).toArray()), failed));
    }
    return out;
  }

  /** Per eval step present in every run: accuracy and loss statistics over the runs. */
  static List<CurvePoint> meanCurve(List<Run> runs) {
    Map<Integer, List<Point>> byStep = new LinkedHashMap<>();
    for (Run r : runs) for (Point p : r.evals()) byStep.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(p);
    List<CurvePoint> curve = new ArrayList<>();
    byStep.forEach((step, ps) -> {
      if (ps.size() == runs.size()) {
        curve.add(new CurvePoint(step, Stat.of(ps.stream().mapToDouble(Point::accuracy).toArray()),
            Stat.of(ps.stream().mapToDouble(Point::loss).toArray())));
      }
    });
    curve.sort((a, b) -> Integer.compare(a.step(), b.step()));
    return curve;
  }

  /** One sweep row per (initBatch, initIters) of {@code sizes}, from the runs of {@code method} with those sizes. */
  static List<SweepRow> sweep(String method, List<int[]> sizes, List<Run> runs) {
    List<SweepRow> out = new ArrayList<>();
    for (int[] s : sizes) {
      List<Run> mine = runs.stream()
          .filter(r -> r.method().equals(method) && r.initBatch() == s[0] && r.initIters() == s[1] && r.ok()).toList();
      if (mine.isEmpty()) continue;
      out.add(new SweepRow(s[0], s[1], mine.stream().map(Run::seed).toList(),
          Stat.of(mine.stream().mapToDouble(r -> r.last().accuracy()).toArray()),
          Stat.of(mine.stream().mapToDouble(r -> r.last().loss()).toArray()),
          Stat.of(mine.stream().mapToDouble(Run::initSeconds).toArray())));
    }
    return out;
  }
}
