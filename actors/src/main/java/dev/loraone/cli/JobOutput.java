package dev.loraone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.runtime.JobEventJson;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * How {@code finetune}, {@code train}, {@code node}, {@code submit} and {@code logs} show a job's events: progress for
 * people, or one JSON object per line.
 */
final class JobOutput {
  private JobOutput() {}

  /** Phase lines, a progress bar over the steps and evaluation lines, on {@code out}. */
  static Consumer<JobEvent> human(String name, PrintStream out) {
    Consumer<JsonNode> h = humanJson(name, out);
    return e -> h.accept(JobEventJson.toNode(e));
  }

  /**
   * The same for events as JSON ({@link JobEventJson}, or a service's event stream, which adds its own
   * kinds such as {@code Submitted} and {@code Requeued}): one line per event, a progress bar for the
   * steps; traffic, checkpoints and the end are left to the caller.
   */
  static Consumer<JsonNode> humanJson(String name, PrintStream out) {
    ProgressBar[] bar = new ProgressBar[1];
    return e -> {
      switch (e.path("event").asText()) {
        case "StepDone" -> {
          if (bar[0] == null) bar[0] = new ProgressBar(out, "[" + name + "] train", e.path("steps").asInt());
          bar[0].update(e.path("step").asInt(), String.format(Locale.ROOT, "loss %.3f%s lr %.1e |g| %.2f %.2fs/step",
              e.path("loss").asDouble(), metrics(e, true), e.path("lr").asDouble(), e.path("gradNorm").asDouble(),
              e.path("seconds").asDouble()));
        }
        case "Traffic", "Checkpointed", "Finished" -> { }
        case "Evaluated" -> out.printf("%n[%s] %s%n", name, line(e));
        default -> out.println("[" + name + "] " + line(e));
      }
    };
  }

  /** One event for people. */
  static String line(JsonNode e) {
    String kind = e.path("event").asText();
    return switch (kind) {
      case "PhaseChanged" ->
          e.path("phase").asText().toLowerCase(Locale.ROOT).replace('_', ' ')
              + ": "
              + e.path("detail").asText();
      case "WorkersChanged" ->
          "workers "
              + e.path("workers")
              + (e.path("detail").asText().isEmpty() ? "" : ": " + e.path("detail").asText());
      case "StepDone" ->
          String.format(
              Locale.ROOT,
              "step %d/%d loss %.4f%s lr %.2e |g| %.3f %.2fs",
              e.path("step").asInt(),
              e.path("steps").asInt(),
              e.path("loss").asDouble(),
              metrics(e, true),
              e.path("lr").asDouble(),
              e.path("gradNorm").asDouble(),
              e.path("seconds").asDouble());
      case "Evaluated" ->
          String.format(
              Locale.ROOT,
              "eval @%d:%s loss %.4f (%d examples)",
              e.path("step").asInt(),
              metrics(e, false),
              e.path("loss").asDouble(),
              e.path("examples").asInt());
      case "Checkpointed" -> "checkpoint after step " + e.path("step").asInt();
      case "Traffic" ->
          "traffic after step "
              + e.path("step").asInt()
              + ": "
              + e.path("bytesSent").asLong()
              + " B sent, "
              + e.path("bytesReceived").asLong()
              + " B received";
      case "Finished" -> "finished: adapter sha256 " + e.path("adapterSha256").asText();
      case "Failed" -> "failed: " + e.path("reason").asText();
      default -> kind.toLowerCase(Locale.ROOT) + ": " + e.path("detail").asText();
    };
  }

  /**
   * A task's metrics for people, e.g. {@code " acc 0.62"} or {@code " ppl 12.3 (4096 tokens)"}; events without a
   * {@code metrics} object (an older service's) show their {@code accuracy}.
   */
  static String metrics(JsonNode e, boolean brief) {
    JsonNode m = e.has("metrics") ? e.path("metrics") : e;
    StringBuilder sb = new StringBuilder();
    if (m.has("accuracy"))
      sb.append(
          String.format(
              Locale.ROOT, brief ? " acc %.3f" : " accuracy %.4f", m.path("accuracy").asDouble()));
    if (m.has("perplexity"))
      sb.append(
          String.format(
              Locale.ROOT,
              brief ? " ppl %.2f" : " perplexity %.3f",
              m.path("perplexity").asDouble()));
    if (m.has("exact_match"))
      sb.append(
          String.format(
              Locale.ROOT,
              brief ? " em %.2f" : " exact match %.4f",
              m.path("exact_match").asDouble()));
    if (!brief && m.has("tokens")) sb.append(String.format(Locale.ROOT, " (%d tokens)", m.path("tokens").asLong()));
    return sb.toString();
  }

  /** Each event as one line {@code {"event":"StepDone","job":"...","step":1,...}} on {@code out}, flushed. */
  static Consumer<JobEvent> json(PrintStream out) {
    return e -> {
      out.println(toJson(e));
      out.flush();
    };
  }

  static String toJson(JobEvent e) {
    return JobEventJson.toJson(e);
  }

  /**
   * The exit code of a job command: 0 when the job finished; with {@code json} the events said it
   * all, else the end is printed.
   */
  static int end(JobEvent end, boolean json) {
    return json ? (end instanceof JobEvent.Finished ? 0 : 1) : printEnd(end, System.out, System.err);
  }

  /** The end of a job for people: final metrics, the adapter and its SHA-256, exported files. Returns the exit code. */
  static int printEnd(JobEvent end, PrintStream out, PrintStream err) {
    if (end instanceof JobEvent.Finished f) {
      JsonNode last = JobEventJson.toNode(f.finalEval());
      out.printf(
          "%nfinal:%s, eval loss %.4f on %d examples%n",
          metrics(last, false), f.finalEval().loss(), f.finalEval().examples());
      out.println("adapter: " + f.adapterDir() + " (sha256 " + f.adapterSha256() + ")");
      f.exported().forEach((file, sha) -> out.println("exported: " + file + " (sha256 " + sha + ")"));
      return 0;
    }
    err.println("job failed: " + ((JobEvent.Failed) end).reason());
    return 1;
  }
}
