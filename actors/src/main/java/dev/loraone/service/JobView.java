package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.TaskMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * What the service shows of one job: its {@link JobStore.Record} plus what its events say (phase,
 * step, curves with the task's metrics, workers, artefacts), folded from the same event objects whether
 * they arrive live or are read back from {@code events.jsonl} after a restart. Events are the coordinator's
 * {@code JobEvent}s as {@code JobEventJson} renders them, plus the service's own
 * ({@code Submitted}, {@code Started}, {@code Requeued}, {@code CancelRequested}), each with a
 * {@code time} in epoch milliseconds.
 */
final class JobView {
  private static final ObjectMapper JSON = new ObjectMapper();

  JobStore.Record record;
  /**
   * The scheduler's view ({@link JobManager}): {@code priority}, {@code memory} (the estimate, its terms) and
   * {@code memoryBytes}, {@code waiting} (why a queued job waits), {@code nodes} (where it runs or ran).
   */
  final ObjectNode schedule = JSON.createObjectNode();
  final List<ObjectNode> events = new ArrayList<>();
  private String phase = "QUEUED";
  private String detail = "";
  private int step;
  private int steps;
  private double stepSeconds = Double.NaN;
  private final ArrayNode curve = JSON.createArrayNode();
  private final ArrayNode evals = JSON.createArrayNode();
  private final ArrayNode timeline = JSON.createArrayNode();
  private JsonNode workers = JSON.createArrayNode();
  private String workersDetail = "";
  private int checkpointStep = -1;
  private JsonNode exported = JSON.createObjectNode();
  /** The metric that sums up the job ({@link TaskMetrics#headline}): null until a step or evaluation reports one. */
  private String headline;

  JobView(JobStore.Record record) {
    this.record = record;
  }

  /** Adds one event and folds it into the view; returns its index in the job's event list. */
  int add(ObjectNode e) {
    events.add(e);
    String kind = e.path("event").asText();
    long time = e.path("time").asLong();
    switch (kind) {
      case "PhaseChanged" -> {
        phase = e.path("phase").asText();
        detail = e.path("detail").asText();
        ObjectNode t = timeline.addObject();
        t.put("phase", phase);
        t.put("time", time);
        t.put("detail", detail);
      }
      case "WorkersChanged" -> {
        workers = e.path("workers");
        workersDetail = e.path("detail").asText();
      }
      case "StepDone" -> {
        step = e.path("step").asInt();
        steps = e.path("steps").asInt();
        stepSeconds = e.path("seconds").asDouble();
        ObjectNode p = curve.addObject();
        p.put("step", step);
        p.set("loss", e.path("loss"));
        metrics(e, p);
        p.put("time", time);
      }
      case "Evaluated" -> {
        ObjectNode p = evals.addObject();
        p.put("step", e.path("step").asInt());
        p.set("loss", e.path("loss"));
        metrics(e, p);
        if (e.has("examples")) p.set("examples", e.path("examples"));
      }
      case "Checkpointed" -> checkpointStep = e.path("step").asInt();
      case "Finished" -> {
        exported = e.path("exported");
        phase = "DONE";
      }
      case "Failed" -> {
        detail = e.path("reason").asText();
        phase = "FAILED";
      }
      case "Cancelled" -> {
        detail = e.path("detail").asText();
        phase = "CANCELLED";
      }
      case "Submitted", "Requeued" -> {
        phase = "QUEUED";
        ObjectNode t = timeline.addObject();
        t.put("phase", "QUEUED");
        t.put("time", time);
        t.put("detail", e.path("detail").asText());
      }
      default -> {
        // Started, CancelRequested, Checkpointed-like service notes: in the event list only
      }
    }
    return events.size() - 1;
  }

  /**
   * Copies the task's metrics of event {@code e} into {@code point}: as {@code metrics} and as top-level keys
   * ({@code accuracy}; {@code perplexity, tokens}), as {@code JobEventJson} writes them. An event of an older
   * service has no {@code metrics} object, only {@code accuracy}. The first metric seen names the job's headline.
   */
  private void metrics(ObjectNode e, ObjectNode point) {
    ObjectNode m = e.path("metrics") instanceof ObjectNode o ? o.deepCopy() : JSON.createObjectNode();
    if (m.isEmpty() && e.path("accuracy").isNumber()) m.set("accuracy", e.path("accuracy"));
    point.set("metrics", m);
    m.fields().forEachRemaining(f -> point.set(f.getKey(), f.getValue()));
    if (headline == null) {
      for (String task : TaskMetrics.TASKS) {
        if (m.has(TaskMetrics.headline(task))) {
          headline = TaskMetrics.headline(task);
          break;
        }
      }
    }
  }

  /**
   * One line of {@code GET /jobs} ({@code submittedBy}: the submitter's token name, on a service with
   * tokens); once the job reported metrics, {@code headline} ({@code accuracy} |
   * {@code perplexity})
   * and the last evaluation's value of it ({@code evalAccuracy} | {@code evalPerplexity}).
   */
  ObjectNode summary() {
    ObjectNode o = JSON.createObjectNode();
    o.put("id", record.id());
    o.put("name", record.name());
    o.put("state", record.state().name());
    o.put("phase", phase);
    o.put("step", step);
    o.put("steps", steps);
    o.put("submitted", record.submitted());
    if (record.started() > 0) o.put("started", record.started());
    if (record.ended() > 0) o.put("ended", record.ended());
    if (record.reason() != null) o.put("reason", record.reason());
    if (record.submittedBy() != null) o.put("submittedBy", record.submittedBy());
    if (record.state() == JobStore.State.QUEUED || !schedule.path("nodes").isMissingNode()) o.setAll(schedule);
    JsonNode last = curve.isEmpty() ? null : curve.get(curve.size() - 1);
    if (last != null) o.set("loss", last.path("loss"));
    if (headline != null) {
      o.put("headline", headline);
      JsonNode eval = evals.isEmpty() ? null : evals.get(evals.size() - 1).path(headline);
      String key = "eval" + Character.toUpperCase(headline.charAt(0)) + headline.substring(1);
      if (eval != null && !eval.isMissingNode()) o.set(key, eval);
    }
    return o;
  }

  /** {@code GET /jobs/{id}}: the summary plus curves, evaluations, phase timeline, workers and artefacts. */
  ObjectNode detail() {
    ObjectNode o = summary();
    o.put("detail", detail);
    if (!Double.isNaN(stepSeconds)) o.put("stepSeconds", stepSeconds);
    o.put("checkpointStep", checkpointStep);
    o.put("cancelRequested", record.cancelRequested());
    o.set("workers", workers);
    o.put("workersDetail", workersDetail);
    o.set("curve", curve);
    o.set("evaluations", evals);
    o.set("timeline", timeline);
    ObjectNode artifacts = o.putObject("artifacts");
    if (record.state() == JobStore.State.SUCCEEDED) {
      artifacts.put("adapter", "/jobs/" + record.id() + "/artifacts/adapter");
      if (exported.has("model.onnx")) artifacts.put("onnx", "/jobs/" + record.id() + "/artifacts/onnx");
      if (record.adapterSha256() != null) o.put("adapterSha256", record.adapterSha256());
    }
    o.set("exported", exported);
    o.put("events", events.size());
    return o;
  }
}
