package dev.loraone.cli;

import dev.loraone.coordinator.JobEvent;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Consumer;

/** How {@code train} and {@code node} show a job's events: progress for people, or one JSON object per line. */
final class JobOutput {
  private JobOutput() {}

  /** Phase lines, a progress bar over the steps and evaluation lines, on {@code out}. */
  static Consumer<JobEvent> human(String name, PrintStream out) {
    ProgressBar[] bar = new ProgressBar[1];
    return e -> {
      if (e instanceof JobEvent.PhaseChanged p) {
        out.println("[" + name + "] " + p.phase().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + p.detail());
      } else if (e instanceof JobEvent.WorkersChanged w) {
        out.println("[" + name + "] workers " + w.workers() + (w.detail().isEmpty() ? "" : ": " + w.detail()));
      } else if (e instanceof JobEvent.StepDone s) {
        if (bar[0] == null) bar[0] = new ProgressBar(out, "[" + name + "] train", s.steps());
        bar[0].update(s.step(), String.format("loss %.3f acc %.2f lr %.1e |g| %.2f %.2fs/step", s.loss(), s.accuracy(), s.lr(),
            s.gradNorm(), s.seconds()));
      } else if (e instanceof JobEvent.Evaluated v) {
        out.printf("%n[%s] eval @%d: accuracy %.4f loss %.4f (%d examples)%n", name, v.step(), v.accuracy(), v.loss(), v.examples());
      } else if (e instanceof JobEvent.Failed f) {
        out.println("[" + name + "] failed: " + f.reason());
      }
    };
  }

  /** Each event as one line {@code {"event":"StepDone","job":"...","step":1,...}} on {@code out}, flushed. */
  static Consumer<JobEvent> json(PrintStream out) {
    return e -> {
      out.println(toJson(e));
      out.flush();
    };
  }

  static String toJson(JobEvent e) {
    return dev.loraone.runtime.JobEventJson.toJson(e);
  }

  /** The exit code of a job command: 0 when the job finished; with {@code json} the events said it all, else the end is printed. */
  static int end(JobEvent end, boolean json) {
    return json ? (end instanceof JobEvent.Finished ? 0 : 1) : printEnd(end, System.out, System.err);
  }

  /** The end of a job for people: final metrics, the adapter and its SHA-256, exported files. Returns the exit code. */
  static int printEnd(JobEvent end, PrintStream out, PrintStream err) {
    if (end instanceof JobEvent.Finished f) {
      out.printf("%nfinal: accuracy %.4f, eval loss %.4f on %d examples%n", f.finalEval().accuracy(), f.finalEval().loss(),
          f.finalEval().examples());
      out.println("adapter: " + f.adapterDir() + " (sha256 " + f.adapterSha256() + ")");
      f.exported().forEach((file, sha) -> out.println("exported: " + file + " (sha256 " + sha + ")"));
      return 0;
    }
    err.println("job failed: " + ((JobEvent.Failed) end).reason());
    return 1;
  }
}
