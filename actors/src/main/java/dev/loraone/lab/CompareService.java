package dev.loraone.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.lab.ComparePlan.PlannedRun;
import dev.loraone.lab.CompareResults.Point;
import dev.loraone.lab.CompareResults.Run;
import dev.loraone.service.HttpTls;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The runs of {@code loraone compare} as jobs of a running {@code loraone serve} ({@code --server}):
 * every planned job is POSTed at once, so the service's queue spreads them over its workers as its
 * {@code --max-concurrent} allows; then {@code GET /jobs} is polled until each has ended, and an ended
 * job's {@code GET /jobs/{id}} gives its evaluations (loss and the task's metrics), training curve,
 * phase timeline and adapter SHA-256. A job that diverged is submitted again (see {@link CompareRunner}).
 *
 * <p>The job text is the run's canonical rendering ({@code JobSpec.render()}): model and data paths
 * are read on the service's machine. A compare stopped early leaves its jobs on the service
 * ({@code loraone cancel ID}; the ids are logged as they are submitted).
 */
final class CompareService implements CompareRunner {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> ENDED = Set.of("SUCCEEDED", "FAILED", "CANCELLED");
  /** How often a line lists the running jobs' steps. */
  private static final long PROGRESS_NANOS = Duration.ofSeconds(30).toNanos();

  private final String base;
  private final String token;
  private final Duration poll;
  private final Consumer<String> log;
  private final Path trustStore;
  private final HttpClient http;

  /** {@code token}: the service's bearer token, or null; {@code trustStore}: for https, null: the JVM's trust. */
  CompareService(String url, String token, Path trustStore, Duration poll, Consumer<String> log) {
    this.trustStore = trustStore;
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .sslContext(HttpTls.client(trustStore, System.getenv())).build();
    this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    this.token = token == null || token.isBlank() ? null : token;
    this.poll = poll;
    this.log = log;
  }

  /** A submitted run: which attempt, and the last state seen. */
  private static final class Pending {
    final PlannedRun run;
    final String tag;
    final long start = System.nanoTime();
    int attempt = 1;
    String state = "";

    Pending(PlannedRun run, String tag) {
      this.run = run;
      this.tag = tag;
    }
  }

  @Override
  public void run(List<PlannedRun> plan, Consumer<Run> done) {
    Map<String, Pending> pending = new LinkedHashMap<>();
    try {
      int k = 0;
      for (PlannedRun p : plan) {
        Pending x = new Pending(p, String.format("[%d/%d] %s seed %d", ++k, plan.size(), p.method().key(), p.seed()));
        pending.put(submit(x), x);
      }
    } catch (IllegalArgumentException e) { // a refused job: the others are the same job with other keys
      pending.keySet().forEach(this::cancel);
      throw e;
    }
    long lastProgress = System.nanoTime();
    while (!pending.isEmpty()) {
      sleep();
      Map<String, JsonNode> byId = new LinkedHashMap<>();
      for (JsonNode j : request("GET", "/jobs", null)) byId.put(j.path("id").asText(), j);
      List<String> running = new ArrayList<>();
      for (String id : List.copyOf(pending.keySet())) {
        Pending x = pending.get(id);
        JsonNode j = byId.get(id);
        String state = j == null ? "MISSING" : j.path("state").asText();
        if (!state.equals(x.state)) {
          x.state = state;
          if (!ENDED.contains(state)) log.accept(x.tag + ": " + state.toLowerCase(Locale.ROOT) + " (job " + id + ")");
        }
        if (state.equals("RUNNING")) {
          running.add(x.run.method().key() + " s" + x.run.seed() + " " + j.path("step").asInt() + "/"
              + j.path("steps").asInt());
        }
        if (!ENDED.contains(state) && j != null) continue;
        pending.remove(id);
        JsonNode d = j == null ? null : request("GET", "/jobs/" + id, null);
        if ("SUCCEEDED".equals(state)) {
          Run r = run(x, id, d);
          log.accept(CompareRunner.evalLine(x.tag, r.last().step(), r.last().loss(), r.last().metrics()) + " (job "
              + id + ", " + Math.round(r.wallSeconds()) + " s)");
          done.accept(r);
          continue;
        }
        String reason = d == null ? "job " + id + " is no longer on the service" : state.toLowerCase(Locale.ROOT) + ": "
            + d.path("reason").asText(d.path("detail").asText());
        if (CompareRunner.diverged(reason) && x.attempt < ATTEMPTS) {
          log.accept(x.tag + ": attempt " + x.attempt + " stopped (" + reason + "); submitting again");
          x.attempt++;
          x.state = "";
          pending.put(submit(x), x);
        } else {
          log.accept(x.tag + ": FAILED: " + reason);
          done.accept(Run.failed(x.run.method().key(), x.run.seed(), id, (System.nanoTime() - x.start) / 1e9, x.attempt,
              reason));
        }
      }
      if (!running.isEmpty() && System.nanoTime() - lastProgress > PROGRESS_NANOS) {
        lastProgress = System.nanoTime();
        log.accept("running: " + String.join(", ", running) + "; " + pending.size() + " not ended");
      }
    }
  }

  /** POSTs the run's job; returns the service's job id. */
  private String submit(Pending x) {
    String id = request("POST", "/jobs", x.run.spec().render()).path("id").asText();
    log.accept(x.tag + ": submitted as job " + id + (x.attempt > 1 ? " (attempt " + x.attempt + ")" : ""));
    return id;
  }

  private void cancel(String id) {
    try {
      request("POST", "/jobs/" + id + "/cancel", "");
    } catch (IllegalArgumentException e) {
      log.accept("could not cancel job " + id + ": " + e.getMessage());
    }
  }

  /**
   * An ended job's view as a {@link Run}: evaluations, per-step training loss; init time from the
   * start to the TRAINING phase, train time from there to the end.
   */
  static Run run(PlannedRun p, int attempt, String id, JsonNode d) {
    List<Point> evals = new ArrayList<>();
    for (JsonNode e : d.path("evaluations")) {
      Map<String, Double> metrics = new LinkedHashMap<>();
      e.path("metrics").fields().forEachRemaining(f -> metrics.put(f.getKey(), f.getValue().asDouble()));
      evals.add(new Point(e.path("step").asInt(), e.path("loss").asDouble(), metrics));
    }
    List<Double> trainLoss = new ArrayList<>();
    d.path("curve").forEach(c -> trainLoss.add(c.path("loss").asDouble()));
    long started = d.path("started").asLong();
    long ended = d.path("ended").asLong();
    long training = ended;
    for (JsonNode t : d.path("timeline")) {
      if (t.path("phase").asText().equals("TRAINING")) {
        training = t.path("time").asLong();
        break;
      }
    }
    int examples = evals.isEmpty() ? 0 : d.path("evaluations").get(evals.size() - 1).path("examples").asInt();
    String sha = d.path("adapterSha256").isTextual() ? d.path("adapterSha256").asText() : null;
    String failure = evals.isEmpty() ? "job " + id + " succeeded without evaluations" : null;
    return new Run(p.method().key(), p.seed(), id, evals, examples, trainLoss, (training - started) / 1e3,
        (ended - training) / 1e3, (ended - started) / 1e3, sha, attempt, failure);
  }

  private Run run(Pending x, String id, JsonNode d) {
    return run(x.run, x.attempt, id, d);
  }

  /** One request; a 4xx/5xx or no service becomes an IllegalArgumentException with the server's message. */
  private JsonNode request(String method, String path, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(1));
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (body == null) b.GET();
    else b.header("Content-Type", "application/hocon").method(method, HttpRequest.BodyPublishers.ofString(body,
        StandardCharsets.UTF_8));
    HttpResponse<String> res;
    try {
      res = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (ConnectException e) {
      throw new IllegalArgumentException("no loraone service at " + base + " (start one with `loraone serve`)");
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalArgumentException(HttpTls.handshakeFailed(base, trustStore, e));
    } catch (IOException e) {
      throw new IllegalArgumentException(method + " " + base + path + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for " + base + path, e);
    }
    JsonNode n;
    try {
      n = JSON.readTree(res.body());
    } catch (IOException e) {
      n = JSON.createObjectNode().put("error", res.body());
    }
    if (res.statusCode() >= 400) {
      StringBuilder m = new StringBuilder(method + " " + path + ": " + res.statusCode() + " "
          + n.path("error").asText());
      n.path("problems").forEach(p -> m.append("\n  ").append(p.asText()));
      throw new IllegalArgumentException(m.toString());
    }
    return n;
  }

  private void sleep() {
    try {
      Thread.sleep(poll.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while following the compare's jobs", e);
    }
  }
}
