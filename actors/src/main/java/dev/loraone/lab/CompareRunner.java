package dev.loraone.lab;

import dev.loraone.lab.ComparePlan.PlannedRun;
import dev.loraone.lab.CompareResults.Point;
import dev.loraone.lab.CompareResults.Run;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.runtime.LocalJob;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Runs the planned jobs of {@code loraone compare} and hands each finished {@link Run} to
 * {@code done} as it ends: {@link #local} one after another in this process ({@link LocalJob}, the
 * engine of {@code loraone finetune}), {@link CompareService} as jobs of a running service.
 *
 * <p>A job that stops on a non-finite loss or gradient (seen rarely and not reproducibly on the CPU
 * build, where identical re-runs otherwise give identical results) runs again from scratch, up to
 * {@link #ATTEMPTS} times; a run that fails every attempt, or fails for another reason, is recorded
 * with its error and left out of the statistics.
 */
interface CompareRunner {
  /** Attempts per job. */
  int ATTEMPTS = 3;

  /** The messages of {@code AdapterTrainer.DivergedException}: worth another attempt. */
  Pattern DIVERGED = Pattern.compile("non-finite gradient|loss is (NaN|-?Infinity)");

  /** Runs every job of {@code plan}; {@code done} receives each run as it ends, in the order they end. */
  void run(List<PlannedRun> plan, Consumer<Run> done);

  static boolean diverged(String reason) {
    return reason != null && DIVERGED.matcher(reason).find();
  }

  /** One line per evaluation: the task's headline metric and the eval loss. */
  static String evalLine(String tag, int step, double loss, Map<String, Double> metrics) {
    String h = CompareResults.headline(metrics);
    String m = h.equals(CompareResults.LOSS) ? "" : String.format(Locale.ROOT, "%s %.4f, ", h, metrics.get(h));
    return String.format(Locale.ROOT, "%s @%d: %sloss %.4f", tag, step, m, loss);
  }

  /** In this process, one job after another; each job's adapter goes to {@code runsDir/<job name>/adapter}. */
  static CompareRunner local(Path runsDir, Consumer<String> log) {
    return (plan, done) -> {
      int k = 0;
      long start = System.nanoTime();
      for (PlannedRun p : plan) {
        k++;
        String tag = String.format("[%d/%d] %s seed %d", k, plan.size(), p.method().key(), p.seed());
        Run r = runLocally(p, runsDir.resolve(p.name()), tag, log);
        log.accept(String.format(Locale.ROOT, "%s: %s in %.0f s; %.1f min elapsed", tag, r.ok() ? "done" : "FAILED: "
            + r.failure(), r.wallSeconds(), (System.nanoTime() - start) / 60e9));
        done.accept(r);
      }
    };
  }

  private static Run runLocally(PlannedRun p, Path dir, String tag, Consumer<String> log) {
    long t0 = System.nanoTime();
    String failure = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      String at = tag + (attempt > 1 ? " (attempt " + attempt + ")" : "");
      log.accept(at + ": start");
      LocalJob.Outcome o = LocalJob.run(p.spec(), dir, e -> {
        if (e instanceof JobEvent.Evaluated ev) log.accept(evalLine(at, ev.step(), ev.loss(), ev.metrics()));
      });
      if (o.end() instanceof JobEvent.Finished f) {
        List<Point> evals = o.result().evals().stream().map(e -> new Point(e.step(), e.loss(), e.metrics())).toList();
        List<Double> trainLoss = o.result().steps().stream().map(JobEvent.StepDone::loss).toList();
        return new Run(p.method().key(), p.seed(), p.name(), evals, f.finalEval().examples(), trainLoss,
            o.result().initSeconds(), o.result().trainSeconds(), (System.nanoTime() - t0) / 1e9, f.adapterSha256(),
            attempt, null);
      }
      failure = ((JobEvent.Failed) o.end()).reason();
      if (!diverged(failure)) return Run.failed(p.method().key(), p.seed(), p.name(), (System.nanoTime() - t0) / 1e9,
          attempt, failure);
      log.accept(at + ": stopped: " + failure);
    }
    return Run.failed(p.method().key(), p.seed(), p.name(), (System.nanoTime() - t0) / 1e9, ATTEMPTS, failure);
  }
}
