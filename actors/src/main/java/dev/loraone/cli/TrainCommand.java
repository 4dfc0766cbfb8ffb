package dev.loraone.cli;

import dev.loraone.coordinator.JobEvent;
import dev.loraone.protocol.job.JobKeys;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.EmbeddedJob;
import dev.loraone.runtime.LocalWorkers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone train --job FILE [--workers N]}: a job file run by a coordinator and N worker
 * actors in this JVM. Prints progress and, at the end, the adapter's SHA-256 (equal for any N).
 */
@Command(name = "train", description = "Run a job file with a coordinator and N worker actors in this JVM.")
final class TrainCommand implements Callable<Integer> {
  @Option(names = "--job", description = "job file (HOCON or JSON; see conf/jobs/)") Path job;
  @Option(names = "--workers", defaultValue = "2", description = "worker actors (default: ${DEFAULT-VALUE})") int workers;
  @Option(names = "--out", description = "output folder (default: out/jobs/<job name>); a checkpoint there is resumed") Path out;
  @Option(names = "--timeout", defaultValue = "120", description = "give up after this many minutes (default: ${DEFAULT-VALUE})") long timeoutMinutes;
  @Option(names = "--list-keys", description = "print every job key with its default and exit") boolean listKeys;

  @Override
  public Integer call() {
    if (listKeys) {
      System.out.print(JobKeys.describe());
      return 0;
    }
    if (job == null) throw new IllegalArgumentException("--job FILE is required (or --list-keys)");
    JobSpec spec = JobSpec.parseFile(job);
    Path dir = out != null ? out : Path.of("out", "jobs", spec.getString("name"));
    JobEvent end = run(spec, workers, dir, Duration.ofMinutes(timeoutMinutes));
    if (end instanceof JobEvent.Finished f) {
      System.out.printf("%nfinal: accuracy %.4f, eval loss %.4f on %d examples%n", f.finalEval().accuracy(), f.finalEval().loss(),
          f.finalEval().examples());
      System.out.println("adapter: " + f.adapterDir() + " (sha256 " + f.adapterSha256() + ")");
      f.exported().forEach((file, sha) -> System.out.println("exported: " + file + " (sha256 " + sha + ")"));
      return 0;
    }
    System.err.println("job failed: " + ((JobEvent.Failed) end).reason());
    return 1;
  }

  /** Runs a job in this JVM with progress on stderr; returns Finished or Failed. */
  static JobEvent run(JobSpec spec, int workers, Path dir, Duration timeout) {
    ProgressBar[] bar = new ProgressBar[1];
    String name = spec.getString("name");
    return EmbeddedJob.run(spec, workers, LocalWorkers.factory(), dir, e -> {
      if (e instanceof JobEvent.PhaseChanged p) {
        System.err.println("[" + name + "] " + p.phase().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ": " + p.detail());
      } else if (e instanceof JobEvent.WorkersChanged w) {
        System.err.println("[" + name + "] workers " + w.workers() + (w.detail().isEmpty() ? "" : ": " + w.detail()));
      } else if (e instanceof JobEvent.StepDone s) {
        if (bar[0] == null) bar[0] = new ProgressBar(System.err, "[" + name + "] train", s.steps());
        bar[0].update(s.step(), String.format("loss %.3f acc %.2f lr %.1e |g| %.2f %.2fs/step", s.loss(), s.accuracy(), s.lr(),
            s.gradNorm(), s.seconds()));
      } else if (e instanceof JobEvent.Evaluated v) {
        System.err.printf("%n[%s] eval @%d: accuracy %.4f loss %.4f (%d examples)%n", name, v.step(), v.accuracy(), v.loss(), v.examples());
      } else if (e instanceof JobEvent.Failed f) {
        System.err.println("[" + name + "] failed: " + f.reason());
      }
    }, timeout);
  }
}
