package dev.loraone.cli;

import dev.loraone.protocol.job.JobEvent;
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

  @Option(
      names = "--workers",
      defaultValue = "2",
      description = "worker actors (default: ${DEFAULT-VALUE})")
  int workers;

  @Option(
      names = "--out",
      description = "output folder (default: out/jobs/<job name>); a checkpoint there is resumed")
  Path out;

  @Option(
      names = "--timeout",
      defaultValue = "120",
      description = "give up after this many minutes (default: ${DEFAULT-VALUE})")
  long timeoutMinutes;

  @Option(names = "--list-keys", description = "print every job key with its default and exit") boolean listKeys;
  @Option(names = "--json", description = "print each job event as one JSON object per line on stdout") boolean json;

  @Override
  public Integer call() {
    if (listKeys) {
      System.out.print(JobKeys.describe());
      return 0;
    }
    if (job == null) throw new IllegalArgumentException("--job FILE is required (or --list-keys)");
    JobSpec spec = JobSpec.parseFile(job);
    Path dir = out != null ? out : Path.of("out", "jobs", spec.getString("name"));
    JobEvent end =
        EmbeddedJob.run(
            spec,
            workers,
            LocalWorkers.factory(),
            dir,
            json ? JobOutput.json(System.out) : JobOutput.human(spec.getString("name"), System.err),
            Duration.ofMinutes(timeoutMinutes));
    return JobOutput.end(end, json);
  }

  /** Runs a job in this JVM with progress on stderr; returns Finished or Failed. */
  static JobEvent run(JobSpec spec, int workers, Path dir, Duration timeout) {
    return EmbeddedJob.run(
        spec,
        workers,
        LocalWorkers.factory(),
        dir,
        JobOutput.human(spec.getString("name"), System.err),
        timeout);
  }
}
