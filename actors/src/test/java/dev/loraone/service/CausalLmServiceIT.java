package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.runtime.LocalJob;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code loraone serve} SIGKILLed in the middle of a causal-LM job (a tiny random Llama checkpoint
 * with tied bf16 embeddings, sharded, and a prompt/completion file, both named by absolute path in
 * the POSTed job) and started again on the same {@code --data}: the job is requeued, resumes after
 * the checkpoint on disk without redoing a step, succeeds, and its adapter has the SHA-256 of the
 * same job run uninterrupted in one process ({@link LocalJob}); its events and its view
 * ({@code GET /jobs/{id}}) report perplexity, the causal LM's metric.
 */
class CausalLmServiceIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static final int STEPS = 150;
  static final Duration JOB = Duration.ofMinutes(3);
  private static String reference;

  /** A tied, bf16, sharded checkpoint (4 heads over 2 kv heads) and 40 prompt/completion pairs. */
  @BeforeAll
  static void writeCheckpointAndTask() throws IOException {
    LlamaFixture.Spec s = LlamaFixture.Spec.tiny(true);
    LlamaFixture.write(dir.resolve("tiny-llama-tied"), s, 43, DType.BF16, true);
    LlamaFixture.writeTokenizer(dir.resolve("tiny-llama-tied"), s);
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
   * The job text POSTed to the service: enough steps (tens of milliseconds each) that the kill lands
   * mid-training; a checkpoint every 5 steps, so the resumed run usually redoes the steps after it.
   */
  static String job() {
    return JobSpec.of(Map.ofEntries(Map.entry("name", "llama-service"), Map.entry("seed", 7),
        Map.entry("model", dir.resolve("tiny-llama-tied").toString()),
        Map.entry("task", dir.resolve("task.jsonl").toString()),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "all-linear"),
        Map.entry("lora.dropout", 0.1), Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4),
        Map.entry("init.iters", 4), Map.entry("init.shards", 2), Map.entry("optimizer.name", "scaled-adamw"),
        Map.entry("optimizer.lr", 1e-2), Map.entry("optimizer.warmup", 1), Map.entry("train.steps", STEPS),
        Map.entry("train.batch", 8), Map.entry("train.micro-batch", 2), Map.entry("train.max-length", 16),
        Map.entry("eval.every", 25), Map.entry("eval.examples", 8), Map.entry("checkpoint.every", 5)))
        .render();
  }

  /** The uninterrupted single-process adapter's SHA-256 of the same job text (inside a test). */
  static synchronized String reference() {
    if (reference == null) {
      JobSpec spec = JobSpec.parseString(job(), "llama service job");
      JobEvent end = LocalJob.run(spec, dir.resolve("finetune-" + System.nanoTime()), e -> {}).end();
      reference = assertInstanceOf(JobEvent.Finished.class, end, () -> "local run ended with " + end).adapterSha256();
    }
    return reference;
  }

  @Test
  void aServiceKilledMidCausalLmJobResumesItAfterItsCheckpointToTheSameAdapter() throws Exception {
    long t0 = System.nanoTime();
    String expected = reference();
    long t1 = System.nanoTime();
    Path data = dir.resolve("data-" + System.nanoTime());
    int clusterPort = ServiceProcess.freePort();
    List<String> args = List.of("--workers", "2", "--max-concurrent", "1");
    String id;
    int checkpointSeen;
    ServiceProcess first = ServiceProcess.start(dir, data, clusterPort, args);
    try {
      ServiceProcess.Response r = first.post("/jobs", job());
      assertEquals(201, r.status(), r.body()::toString);
      id = r.body().path("id").asText();
      checkpointSeen = first.awaitJob(id, j -> j.path("checkpointStep").asInt() >= 10, JOB)
          .path("checkpointStep").asInt();
    } finally {
      first.kill();
    }
    assertFalse(first.alive(), "the first service is gone");

    Path jobDir = data.resolve("jobs").resolve(id);
    JsonNode record = JSON.readTree(jobDir.resolve("job.json").toFile());
    assertEquals("RUNNING", record.path("state").asText(), () -> "the SIGKILL hit the job before its end: " + record);
    JsonNode cp = JSON.readTree(jobDir.resolve("out").resolve("checkpoint").resolve("checkpoint.json").toFile());
    int saved = cp.path("step").asInt();
    assertTrue(saved >= checkpointSeen && saved < STEPS, () -> "checkpoint on disk after the SIGKILL: " + cp);

    try (ServiceProcess second = ServiceProcess.start(dir, data, clusterPort, args)) {
      JsonNode end = second.awaitEnd(id, JOB);
      assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + second.describe());
      List<JsonNode> events = second.events(id);
      int from = assertResumedAfter(saved, events);
      assertEquals(expected, end.path("adapterSha256").asText(), "the resumed adapter is the uninterrupted run's");
      assertPerplexityReported(events, end);
      System.out.printf("[CausalLmServiceIT] reference %.1f s; checkpoint step %d seen, %d on disk; resumed after"
          + " step %d of %d; service runs %.1f s; adapter %s%n", (t1 - t0) / 1e9, checkpointSeen, saved, from, STEPS,
          (System.nanoTime() - t1) / 1e9, expected);
    }
  }

  /** After the Requeued note: resumed after the step on disk, no step redone twice, all steps, one Finished. */
  private static int assertResumedAfter(int saved, List<JsonNode> events) {
    int requeued = -1;
    for (int i = 0; i < events.size() && requeued < 0; i++) if (kind(events.get(i), "Requeued")) requeued = i;
    assertTrue(requeued > 0, () -> "a Requeued event: " + events);
    int from = -1;
    for (int i = requeued; i < events.size() && from < 0; i++) {
      Matcher m = Pattern.compile("^resuming after step (\\d+)$").matcher(events.get(i).path("detail").asText());
      if (kind(events.get(i), "PhaseChanged") && m.matches()) from = Integer.parseInt(m.group(1));
    }
    int resumed = from;
    assertEquals(saved, resumed, () -> "resumed from the checkpoint on disk (step " + saved + "): " + events);
    List<Integer> steps = events.subList(requeued, events.size()).stream().filter(e -> kind(e, "StepDone"))
        .map(e -> e.path("step").asInt()).toList();
    assertEquals(STEPS - saved, steps.size(), () -> "each step after " + saved + " once: " + steps);
    assertTrue(steps.stream().allMatch(s -> s > resumed), () -> "no step up to " + resumed + " redone: " + steps);
    assertEquals(STEPS, steps.get(steps.size() - 1), "the last step");
    assertEquals(1, events.stream().filter(e -> kind(e, "Finished")).count(), () -> "one Finished: " + events);
    assertEquals(0, events.stream().filter(e -> kind(e, "Failed")).count(), () -> "never Failed: " + events);
    return resumed;
  }

  /**
   * The event stream carries perplexity = exp(per-token loss) for evaluations and steps; {@code GET /jobs/{id}},
   * folded again from {@code events.jsonl} by the restarted service, shows each evaluation's perplexity and names
   * perplexity the job's headline metric, with the last evaluation's value.
   */
  private static void assertPerplexityReported(List<JsonNode> events, JsonNode job) {
    List<JsonNode> evals = events.stream().filter(e -> kind(e, "Evaluated")).toList();
    assertFalse(evals.isEmpty(), () -> "evaluations in the event stream: " + events);
    for (JsonNode e : evals) {
      assertEquals(Math.exp(e.path("loss").asDouble()), e.path("perplexity").asDouble(), 1e-9,
          () -> "perplexity = exp(loss): " + e);
      assertEquals(e.path("perplexity"), e.path("metrics").path("perplexity"), () -> "top level and metrics: " + e);
    }
    JsonNode finished = events.stream().filter(e -> kind(e, "Finished")).findFirst().orElseThrow();
    assertTrue(finished.path("finalEval").path("perplexity").asDouble() > 1, finished::toString);
    assertTrue(events.stream().filter(e -> kind(e, "StepDone")).allMatch(e -> e.path("perplexity").asDouble() > 1),
        () -> "every step reports its training perplexity: " + events);

    JsonNode shown = job.path("evaluations");
    JsonNode last = shown.get(shown.size() - 1);
    double perplexity = evals.get(evals.size() - 1).path("perplexity").asDouble();
    assertEquals(STEPS, last.path("step").asInt(), () -> "GET /jobs/{id}: " + job);
    assertEquals(perplexity, last.path("perplexity").asDouble(), 0, () -> "GET /jobs/{id} evaluations: " + shown);
    assertEquals("perplexity", job.path("headline").asText(), () -> "GET /jobs/{id}: " + job);
    assertEquals(perplexity, job.path("evalPerplexity").asDouble(), 0, () -> "GET /jobs/{id}: " + job);
  }

  private static boolean kind(JsonNode e, String event) {
    return e.path("event").asText().equals(event);
  }
}
