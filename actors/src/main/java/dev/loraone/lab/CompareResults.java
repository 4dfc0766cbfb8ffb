package dev.loraone.lab;

import dev.loraone.protocol.job.TaskMetrics;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The data of {@code loraone compare}, as immutable records, and the pure statistics over seeds that
 * the table, chart and JSON writers share. No DJL, no files, no HTTP: the runners fill {@link Run}s,
 * {@link #report} derives everything else.
 *
 * <pre>
 *   Run            one job: method x seed, its eval curve (loss + the task's metrics), timings, adapter SHA-256
 *   MethodSummary  one method over seeds: mean curve (min/max per point), final headline metric and eval loss
 *   Paired         one method - default LoRA, seed by seed: mean and std of the differences, t, p, wins
 *   Speed          eval steps a method needs to reach default LoRA's final eval loss (the paper's speed claim)
 *   SubspaceRow    LoRA-One inits from two disjoint gradient batches of N examples: top-r agreement
 * </pre>
 * The headline metric is the task's ({@link TaskMetrics#headline}): accuracy, perplexity (lower is
 * better) or recall@1; a run without one falls back to the eval loss.
 */
final class CompareResults {
  private CompareResults() {}

  /** The method every other one is paired with and must outpace. */
  static final String BASELINE = "lora";
  /** The eval loss, as a metric name: the fallback headline, and the quantity of {@link Speed}. */
  static final String LOSS = "loss";

  /** A compared configuration: the job keys it sets on top of the job (init, optimizer, targets). */
  record Method(String key, String label, Map<String, Object> keys) {}

  /** One evaluation of one run: mean loss and the task's metrics. */
  record Point(int step, double loss, Map<String, Double> metrics) {}

  /**
   * One job. {@code job} names it (the local job name, or the service's job id); {@code evalExamples}
   * counts the examples of its final evaluation; {@code wallSeconds}
   * covers loading to the last evaluation of the last attempt; {@code attempts} > 1 when a non-finite
   * loss or gradient stopped an earlier attempt; {@code failure} is the last error when every attempt
   * failed (then no evals).
   */
  record Run(String method, long seed, String job, List<Point> evals, int evalExamples, List<Double> trainLoss,
      double initSeconds, double trainSeconds, double wallSeconds, String adapterSha256, int attempts, String failure) {
    Point last() {
      return evals.get(evals.size() - 1);
    }

    boolean ok() {
      return failure == null && !evals.isEmpty();
    }

    static Run failed(String method, long seed, String job, double wallSeconds, int attempts, String failure) {
      return new Run(method, seed, job, List.of(), 0, List.of(), 0, 0, wallSeconds, null, attempts, failure);
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
      return new Stat(mean, std, Arrays.stream(xs).min().orElseThrow(), Arrays.stream(xs).max().orElseThrow(),
          xs.length);
    }
  }

  /** One eval step of a mean curve: the headline metric and the eval loss over seeds. */
  record CurvePoint(int step, Stat headline, Stat loss) {}

  /** Statistics over the method's successful runs; {@code failedSeeds} lists the runs that failed every attempt. */
  record MethodSummary(Method method, List<Long> seeds, List<CurvePoint> curve, Stat finalHeadline, Stat finalLoss,
      Map<String, Stat> finalMetrics, Stat wallSeconds, List<Long> failedSeeds) {}

  /**
   * {@code method - baseline} in {@code metric} over the seeds both finished: {@code diffs} in seed
   * order, their mean and sample std, the paired t statistic {@code mean / (std / sqrt(n))} and its
   * two-sided p (Student, n - 1 degrees of freedom); {@code wins} counts the seeds on which the method
   * is better (higher, or lower for perplexity and loss), {@code ties} the equal ones.
   */
  record Paired(String method, String metric, List<Long> seeds, List<Double> diffs, Stat diff, double t, double p,
      int wins, int ties, int losses) {}

  /**
   * The first eval step at which the method's eval loss is at most default LoRA's final eval loss
   * ({@code -1}: not reached): on the mean curves ({@code target} = LoRA's mean final loss), and seed
   * by seed against LoRA's final loss at that seed. {@code speedup} = LoRA's own step on its mean
   * curve / the method's (NaN when not reached).
   */
  record Speed(String method, double target, int step, double speedup, List<Long> seeds, List<Integer> seedSteps,
      int reached) {}

  /**
   * Agreement of LoRA-One inits built from two disjoint gradient batches of {@code examples}
   * examples each, averaged over the adapted layers: {@code simU} compares the column spans of
   * B0 (top-r left singular vectors of -grad), {@code simV} the row spans of A0, both as
   * {@code ||Q1^T Q2||_F^2 / r}; {@code cosDeltaW} is the cosine of the two updates s*B0*A0.
   * {@code byType} holds the same three numbers per layer type (mean over layers).
   */
  record SubspaceRow(int examples, double simU, double simV, double cosDeltaW, double minSim,
      Map<String, double[]> byType) {}

  /** Everything one {@code loraone compare} produced. */
  record Report(Map<String, Object> settings, String headline, List<Method> methods, List<Run> runs,
      List<MethodSummary> summaries, List<Paired> paired, List<Paired> pairedLoss, List<Speed> speed,
      List<SubspaceRow> subspaces, double totalSeconds) {}

  /** The report of {@code runs} so far: summaries, pairs and speeds against {@link #BASELINE} (when it ran). */
  static Report report(Map<String, Object> settings, List<Method> methods, List<Run> runs, List<SubspaceRow> subspaces,
      double totalSeconds) {
    String headline = runs.stream().filter(Run::ok).findFirst().map(r -> headline(r.last().metrics())).orElse(LOSS);
    List<MethodSummary> summaries = summarize(methods, runs, headline);
    List<Paired> paired = new ArrayList<>();
    List<Paired> pairedLoss = new ArrayList<>();
    for (Method m : methods) {
      if (m.key().equals(BASELINE)) continue;
      Paired p = paired(m.key(), headline, runs, BASELINE);
      if (p.seeds().isEmpty()) continue;
      paired.add(p);
      pairedLoss.add(paired(m.key(), LOSS, runs, BASELINE));
    }
    return new Report(settings, headline, methods, List.copyOf(runs), summaries, paired, pairedLoss,
        speed(summaries, runs, BASELINE), List.copyOf(subspaces), totalSeconds);
  }

  /** The task's headline metric among {@code metrics} ({@link TaskMetrics#headline}), else {@link #LOSS}. */
  static String headline(Map<String, Double> metrics) {
    for (String task : TaskMetrics.TASKS) {
      if (metrics.containsKey(TaskMetrics.headline(task))) return TaskMetrics.headline(task);
    }
    return LOSS;
  }

  static boolean lowerIsBetter(String metric) {
    return metric.equals("perplexity") || metric.equals(LOSS);
  }

  static double value(Point p, String metric) {
    return metric.equals(LOSS) ? p.loss() : p.metrics().getOrDefault(metric, Double.NaN);
  }

  /** Groups runs by method (in {@code methods} order, only methods with runs) and averages over seeds per eval step. */
  static List<MethodSummary> summarize(List<Method> methods, List<Run> runs, String headline) {
    List<MethodSummary> out = new ArrayList<>();
    for (Method m : methods) {
      List<Run> mine = runs.stream().filter(r -> r.method().equals(m.key()) && r.ok()).toList();
      List<Long> failed = runs.stream().filter(r -> r.method().equals(m.key()) && !r.ok()).map(Run::seed).toList();
      if (mine.isEmpty()) continue;
      Map<String, Stat> metrics = new LinkedHashMap<>();
      for (String k : mine.get(0).last().metrics().keySet()) {
        if (!k.equals("tokens")) metrics.put(k, Stat.of(mine.stream().mapToDouble(r -> value(r.last(), k)).toArray()));
      }
      out.add(new MethodSummary(m, mine.stream().map(Run::seed).toList(), meanCurve(mine, headline),
          Stat.of(mine.stream().mapToDouble(r -> value(r.last(), headline)).toArray()),
          Stat.of(mine.stream().mapToDouble(r -> r.last().loss()).toArray()), metrics,
          Stat.of(mine.stream().mapToDouble(Run::wallSeconds).toArray()), failed));
    }
    return out;
  }

  /** Per eval step present in every run: headline and loss statistics over the runs. */
  static List<CurvePoint> meanCurve(List<Run> runs, String headline) {
    Map<Integer, List<Point>> byStep = new TreeMap<>();
    for (Run r : runs) for (Point p : r.evals()) byStep.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(p);
    List<CurvePoint> curve = new ArrayList<>();
    byStep.forEach((step, ps) -> {
      if (ps.size() == runs.size()) {
        curve.add(new CurvePoint(step, Stat.of(ps.stream().mapToDouble(p -> value(p, headline)).toArray()),
            Stat.of(ps.stream().mapToDouble(Point::loss).toArray())));
      }
    });
    return curve;
  }

  /** {@code method - baseline} in the final {@code metric}, paired by seed (seeds where both runs finished). */
  static Paired paired(String method, String metric, List<Run> runs, String baseline) {
    Map<Long, Double> base = finals(baseline, metric, runs);
    List<Long> seeds = new ArrayList<>();
    List<Double> diffs = new ArrayList<>();
    finals(method, metric, runs).forEach((seed, v) -> {
      if (base.containsKey(seed)) {
        seeds.add(seed);
        diffs.add(v - base.get(seed));
      }
    });
    int wins = 0;
    int ties = 0;
    for (double d : diffs) {
      if (d == 0) ties++;
      else if (lowerIsBetter(metric) ? d < 0 : d > 0) wins++;
    }
    Stat s = Stat.of(diffs.stream().mapToDouble(Double::doubleValue).toArray());
    double t = tStatistic(s);
    return new Paired(method, metric, List.copyOf(seeds), List.copyOf(diffs), s, t, twoSidedP(t, s.n() - 1), wins, ties,
        diffs.size() - wins - ties);
  }

  private static Map<Long, Double> finals(String method, String metric, List<Run> runs) {
    Map<Long, Double> out = new TreeMap<>();
    for (Run r : runs) if (r.method().equals(method) && r.ok()) out.put(r.seed(), value(r.last(), metric));
    return out;
  }

  /** {@code mean / (std / sqrt(n))}; NaN for fewer than 2 values, +-infinity for equal non-zero differences. */
  static double tStatistic(Stat diff) {
    if (diff.n() < 2) return Double.NaN;
    if (diff.std() == 0) return diff.mean() == 0 ? Double.NaN : Math.copySign(Double.POSITIVE_INFINITY, diff.mean());
    return diff.mean() / (diff.std() / Math.sqrt(diff.n()));
  }

  /**
   * {@code P(|T| >= |t|)} for Student's T with {@code dof} >= 1 degrees of freedom, in closed form for
   * integer dof (Abramowitz and Stegun 26.7.3, 26.7.4), with {@code theta = atan(|t| / sqrt(dof))}:
   * <pre>
   *   dof odd:  A = 2/pi (theta + sin cos [1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ... up to cos^(dof-3)])
   *             (dof 1: A = 2 theta / pi)
   *   dof even: A = sin [1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(dof-2)]
   *   p = 1 - A
   * </pre>
   */
  static double twoSidedP(double t, int dof) {
    if (dof < 1 || Double.isNaN(t)) return Double.NaN;
    if (Double.isInfinite(t)) return 0;
    double theta = Math.atan(Math.abs(t) / Math.sqrt(dof));
    double cos2 = Math.cos(theta) * Math.cos(theta);
    double sum = 1;
    double term = 1;
    double a;
    if (dof % 2 == 1) {
      for (int k = 2; k <= dof - 3; k += 2) {
        term *= k / (k + 1.0) * cos2;
        sum += term;
      }
      a = dof == 1 ? 2 * theta / Math.PI : 2 / Math.PI * (theta + Math.sin(theta) * Math.cos(theta) * sum);
    } else {
      for (int k = 1; k <= dof - 3; k += 2) {
        term *= k / (k + 1.0) * cos2;
        sum += term;
      }
      a = Math.sin(theta) * sum;
    }
    return Math.max(0, 1 - a);
  }

  /** The first of {@code steps} whose {@code losses} entry is at most {@code target}; -1 if none. */
  static int firstStepAtOrBelow(int[] steps, double[] losses, double target) {
    for (int i = 0; i < steps.length; i++) if (losses[i] <= target) return steps[i];
    return -1;
  }

  /** One {@link Speed} per summarised method against {@code baseline}'s final eval loss; empty when it has no runs. */
  static List<Speed> speed(List<MethodSummary> summaries, List<Run> runs, String baseline) {
    MethodSummary base = summaries.stream().filter(m -> m.method().key().equals(baseline)).findFirst().orElse(null);
    if (base == null || base.curve().isEmpty()) return List.of();
    double target = base.curve().get(base.curve().size() - 1).loss().mean();
    int baseStep = onCurve(base.curve(), target);
    Map<Long, Double> seedTargets = finals(baseline, LOSS, runs);
    List<Speed> out = new ArrayList<>();
    for (MethodSummary m : summaries) {
      int step = onCurve(m.curve(), target);
      List<Long> seeds = new ArrayList<>();
      List<Integer> steps = new ArrayList<>();
      for (Run r : runs) {
        if (!r.method().equals(m.method().key()) || !r.ok() || !seedTargets.containsKey(r.seed())) continue;
        seeds.add(r.seed());
        steps.add(firstStepAtOrBelow(r.evals().stream().mapToInt(Point::step).toArray(),
            r.evals().stream().mapToDouble(Point::loss).toArray(), seedTargets.get(r.seed())));
      }
      double speedup = step < 0 ? Double.NaN : step == 0 ? Double.POSITIVE_INFINITY : (double) baseStep / step;
      out.add(new Speed(m.method().key(), target, step, speedup, List.copyOf(seeds), List.copyOf(steps),
          (int) steps.stream().filter(s -> s >= 0).count()));
    }
    return out;
  }

  private static int onCurve(List<CurvePoint> curve, double target) {
    return firstStepAtOrBelow(curve.stream().mapToInt(CurvePoint::step).toArray(),
        curve.stream().mapToDouble(c -> c.loss().mean()).toArray(), target);
  }
}
