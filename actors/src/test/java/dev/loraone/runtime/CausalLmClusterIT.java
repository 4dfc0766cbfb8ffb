package dev.loraone.runtime;

import static dev.loraone.runtime.NodeProcess.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract across JVMs for causal-LM jobs: {@code loraone node} processes on
 * 127.0.0.1 (a coordinator and worker nodes, each its own JVM from the packaged jar) fine-tune a
 * tiny random Llama checkpoint (grouped-query attention) on prompt/completion pairs read from disk,
 * a third worker joins mid-training and another is SIGKILLed, and the final adapter has the
 * SHA-256 of the single-process reference ({@link LocalJob}); the coordinator's events report
 * perplexity, the causal LM's metric, for training steps and evaluations.
 */
class CausalLmClusterIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static final int STEPS = 200;
  static final Duration JOB = Duration.ofMinutes(3);
  private static String reference;

  /** A GQA checkpoint (4 heads over 2 kv heads) and 40 prompt/completion pairs, absolute paths in the job. */
  @BeforeAll
  static void writeCheckpointAndTask() throws IOException {
    LlamaFixture.Spec s = LlamaFixture.Spec.tiny(false);
    LlamaFixture.write(dir.resolve("tiny-llama"), s, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(dir.resolve("tiny-llama"), s);
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder prompt = new StringBuilder();
      for (int w = 0, n = 2 + r.nextInt(4); w < n; w++) {
        prompt.append(w > 0 ? " " : "").append("w").append(3 + r.nextInt(47));
      }
      String completion = "w10 w11" + " w12".repeat(1 + i % 3); // completions of 3 to 5 tokens: unequal weights
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt.toString(), "completion", completion)));
    }
    Files.write(dir.resolve("task.jsonl"), lines);
  }

  /**
   * Enough steps (about 0.2 s each on 2 cores) that a worker JVM started after step 2 boots and joins
   * well before the end, and the kill lands mid-training; 4 micro-batches a step
   * spread the step over every worker; {@code workers.min = 2} holds the start until both first
   * worker JVMs have joined; dropout makes each micro-batch's mask part of the contract.
   */
  static JobSpec spec() {
    return JobSpec.of(Map.ofEntries(Map.entry("name", "llama-cluster"), Map.entry("seed", 5),
        Map.entry("model", dir.resolve("tiny-llama").toString()),
        Map.entry("task", dir.resolve("task.jsonl").toString()),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "all-linear"),
        Map.entry("lora.dropout", 0.1), Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4),
        Map.entry("init.iters", 4), Map.entry("init.shards", 2), Map.entry("optimizer.name", "scaled-adamw"),
        Map.entry("optimizer.lr", 1e-2), Map.entry("optimizer.warmup", 1), Map.entry("train.steps", STEPS),
        Map.entry("train.batch", 8), Map.entry("train.micro-batch", 2), Map.entry("train.max-length", 16),
        Map.entry("eval.every", 50), Map.entry("eval.examples", 8), Map.entry("checkpoint.every", 1),
        Map.entry("workers.wait-seconds", 300), Map.entry("workers.min", 2)));
  }

  /** The single-process adapter's SHA-256 (inside a test, so a failed attempt is rerun whole). */
  static synchronized String reference() {
    if (reference == null) {
      JobEvent end = LocalJob.run(spec(), dir.resolve("finetune-" + System.nanoTime()), e -> {}).end();
      reference = assertInstanceOf(JobEvent.Finished.class, end, () -> "local run ended with " + end).adapterSha256();
    }
    return reference;
  }

  private static int lastStep(NodeProcess coordinator) {
    int step = 0;
    for (JsonNode e : coordinator.events()) if (event("StepDone").test(e)) step = e.path("step").asInt();
    return step;
  }

  private static boolean servedBy(JsonNode e, String worker) {
    if (!event("WorkersChanged").test(e)) return false;
    for (JsonNode w : e.path("workers")) if (w.asText().equals(worker)) return true;
    return false;
  }

  /** Node JVMs on 127.0.0.1 seeding through the coordinator's port and w1's; closing stops whatever still runs. */
  private static final class Cluster implements AutoCloseable {
    final int coordinatorPort = NodeProcess.freePort();
    final int firstWorkerPort = NodeProcess.freePort();
    final List<Integer> seeds = List.of(coordinatorPort, firstWorkerPort);
    final List<NodeProcess> nodes = new ArrayList<>();

    NodeProcess coordinator(Path out) throws IOException {
      Path job = dir.resolve("llama-cluster.conf");
      if (!Files.exists(job)) Files.writeString(job, spec().render());
      return add(NodeProcess.coordinator(dir, coordinatorPort, seeds, job, out));
    }

    /** w1 listens on the seed port; the others on free ports. */
    NodeProcess worker(String id) throws IOException {
      return add(NodeProcess.worker(dir, id, id.equals("w1") ? firstWorkerPort : NodeProcess.freePort(), seeds));
    }

    /** Every node's events and log tail: a worker that never joined says why only in its own log. */
    String describe() {
      StringBuilder sb = new StringBuilder();
      for (NodeProcess n : nodes) sb.append("\n--- ").append(n.name).append(n.isAlive() ? "" : " (exited)").append(": ")
          .append(n.describe());
      return sb.toString();
    }

    private NodeProcess add(NodeProcess n) {
      nodes.add(n);
      return n;
    }

    @Override
    public void close() throws InterruptedException {
      for (NodeProcess n : nodes) n.close();
    }
  }

  @Test
  void aWorkerJoiningAndAnotherKilledMidTrainingLeaveTheCausalLmAdapterUnchanged() throws Exception {
    long t0 = System.nanoTime();
    String expected = reference();
    long t1 = System.nanoTime();
    try (Cluster cluster = new Cluster()) {
      try {
        elasticRun(cluster, expected, t0, t1);
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "\nall nodes:" + cluster.describe(), e);
      }
    }
  }

  private static void elasticRun(Cluster cluster, String expected, long t0, long t1) throws Exception {
    NodeProcess coordinator = cluster.coordinator(dir.resolve("elastic-" + System.nanoTime()));
    cluster.worker("w1");
    NodeProcess doomed = cluster.worker("w2");
    coordinator.await("step 2", e -> event("StepDone").test(e) && e.path("step").asInt() >= 2, JOB);
    assertTrue(coordinator.events().stream().anyMatch(e -> servedBy(e, "w2")), "w2 served the job");

    long t2 = System.nanoTime();
    cluster.worker("w3");
    coordinator.await("w3 joining", e -> servedBy(e, "w3"), JOB);
    long t3 = System.nanoTime();
    int joinedAt = lastStep(coordinator);
    doomed.kill();
    int killedAt = lastStep(coordinator);
    coordinator.await("w2 leaving", e -> event("WorkersChanged").test(e) && !servedBy(e, "w2")
        && e.path("detail").asText().contains("w2"), JOB);
    JsonNode end = coordinator.end(JOB);

    assertEquals("Finished", end.path("event").asText(), coordinator::describe);
    assertTrue(joinedAt < STEPS && killedAt < STEPS,
        () -> "w3 joined after step " + joinedAt + " and w2 was killed after step " + killedAt + " of " + STEPS);
    assertEquals(expected, end.path("adapterSha256").asText(), "the adapter of the elastic 3-JVM causal-LM run");
    assertPerplexityReported(coordinator.events(), end);
    System.out.printf("[CausalLmClusterIT] reference %.1f s; w3 booted and joined in %.1f s, after step %d; w2 killed"
        + " after step %d of %d; cluster run %.1f s; adapter %s%n", (t1 - t0) / 1e9, (t3 - t2) / 1e9, joinedAt,
        killedAt, STEPS, (System.nanoTime() - t1) / 1e9, expected);
  }

  /** Evaluations at every {@code eval.every} steps and each training step carry perplexity = exp(per-token loss). */
  private static void assertPerplexityReported(List<JsonNode> events, JsonNode end) {
    List<JsonNode> evals = events.stream().filter(event("Evaluated")).toList();
    assertEquals(List.of(50, 100, 150, 200), evals.stream().map(e -> e.path("step").asInt()).toList(),
        "eval.every = 50");
    for (JsonNode e : evals) {
      assertEquals(Math.exp(e.path("loss").asDouble()), e.path("perplexity").asDouble(), 1e-9,
          () -> "perplexity = exp(loss): " + e);
      assertEquals(e.path("perplexity"), e.path("metrics").path("perplexity"),
          () -> "the metric at the top level and in metrics: " + e);
    }
    assertEquals(evals.get(evals.size() - 1).path("perplexity"), end.path("finalEval").path("perplexity"),
        () -> "the final evaluation's perplexity: " + end);
    assertTrue(events.stream().filter(event("StepDone")).allMatch(e -> e.path("perplexity").asDouble() > 1),
        () -> "every step reports its training perplexity: " + events);
  }
}
