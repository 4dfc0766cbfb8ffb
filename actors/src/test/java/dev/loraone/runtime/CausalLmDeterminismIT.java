package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract for causal-LM jobs, the paper's main workload: a Llama-family job
 * (tiny random HF checkpoints: grouped-query attention, tied embeddings, Qwen2's q/k/v biases, Llama
 * 3.1's scaled RoPE) gives one adapter SHA-256 in one process ({@code loraone finetune}: {@link
 * LocalJob}) and as a coordinator with 1 to 3 worker actors, and after a coordinator torn down at a
 * checkpoint resumes. The step's
 * gradient is the sum of token-loss gradients over its micro-batches divided by its completion
 * tokens, whichever worker computed which micro-batch.
 */
class CausalLmDeterminismIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private static final Map<String, String> references = new HashMap<>();
  private static final String GQA = "tiny-llama-gqa";
  private static final String TIED = "tiny-llama-tied";
  private static final String QWEN2 = "tiny-qwen2";
  private static final String LLAMA3 = "tiny-llama3-rope";

  /**
   * A GQA checkpoint (4 heads over 2 kv heads), a tied bf16 sharded one, a tied bf16 sharded Qwen2,
   * a llama3-rope-scaled one, and 40 prompt/completion pairs.
   */
  @BeforeAll
  static void writeCheckpointsAndTask() throws IOException {
    for (boolean tied : List.of(false, true)) {
      LlamaFixture.Spec s = LlamaFixture.Spec.tiny(tied);
      Path ckpt = checkpoint(tied ? TIED : GQA);
      LlamaFixture.write(ckpt, s, tied ? 43 : 41, tied ? DType.BF16 : DType.F32, tied);
      LlamaFixture.writeTokenizer(ckpt, s);
      LlamaFixture.writeChatTemplate(ckpt); // read only by the chat job
    }
    LlamaFixture.write(checkpoint(QWEN2), LlamaFixture.Spec.qwen2(true), 44, DType.BF16, true);
    LlamaFixture.writeTokenizer(checkpoint(QWEN2), LlamaFixture.Spec.qwen2(true));
    LlamaFixture.Spec llama3 = LlamaFixture.Spec.tiny(false).withRope(LlamaFixture.Rope.llama3());
    LlamaFixture.write(checkpoint(LLAMA3), llama3, 45, DType.F32, false);
    LlamaFixture.writeTokenizer(checkpoint(LLAMA3), llama3);
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder prompt = new StringBuilder();
      for (int w = 0, n = 2 + r.nextInt(4); w < n; w++)
        prompt.append(w > 0 ? " " : "").append("w").append(3 + r.nextInt(47));
      String completion = "w10 w11" + " w12".repeat(1 + i % 3); // completions of 3 to 5 tokens: unequal weights
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt.toString(), "completion", completion)));
    }
    Files.write(dir.resolve("task.jsonl"), lines);
    List<String> chats = new ArrayList<>();
    for (int i = 0; i < 40; i++) { // a third with a system turn, a third with two exchanges: unequal weights
      List<Map<String, String>> m = new ArrayList<>();
      if (i % 3 == 1) m.add(Map.of("role", "system", "content", "w6 w7"));
      m.add(Map.of("role", "user", "content", "w" + (13 + r.nextInt(37)) + " w" + (13 + r.nextInt(37))));
      m.add(Map.of("role", "assistant", "content", "w10 w11" + " w12".repeat(1 + i % 2)));
      if (i % 3 == 2) {
        m.add(Map.of("role", "user", "content", "w" + (13 + r.nextInt(37))));
        m.add(Map.of("role", "assistant", "content", "w10 w11 w12"));
      }
      chats.add(JSON.writeValueAsString(Map.of("messages", m)));
    }
    Files.write(dir.resolve("chat.jsonl"), chats);
  }

  private static Path checkpoint(String name) {
    return dir.resolve(name);
  }

  static JobSpec spec(boolean tied) {
    return spec(tied ? TIED : GQA);
  }

  static JobSpec spec(String checkpoint) {
    return JobSpec.of(values(checkpoint));
  }

  private static Map<String, Object> values(String checkpoint) {
    return new HashMap<>(Map.ofEntries(Map.entry("name", "llama"), Map.entry("seed", 5),
        Map.entry("model", checkpoint(checkpoint).toString()), Map.entry("task", dir.resolve("task.jsonl").toString()),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "all-linear"),
        Map.entry("lora.dropout", 0.1), Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4),
        Map.entry("init.iters", 4), Map.entry("init.shards", 2), Map.entry("optimizer.name", "scaled-adamw"),
        Map.entry("optimizer.lr", 2e-2), Map.entry("optimizer.warmup", 1), Map.entry("train.steps", 4),
        Map.entry("train.batch", 8), Map.entry("train.micro-batch", 2), Map.entry("train.max-length", 16),
        Map.entry("eval.every", 2), Map.entry("eval.examples", 8), Map.entry("checkpoint.every", 1)));
  }

  /** {@link #spec(boolean)} on chat records, rendered with the checkpoint's chat template. */
  static JobSpec chatSpec() {
    Map<String, Object> m = values(GQA);
    m.put("task", dir.resolve("chat.jsonl").toString());
    m.put("train.max-length", 24);
    return JobSpec.of(m);
  }

  /** The single-process adapter's SHA-256 ({@code loraone finetune}), with its ONNX export. */
  static synchronized String reference(boolean tied) {
    return reference(tied ? TIED : GQA);
  }

  static synchronized String reference(String checkpoint) {
    return references.computeIfAbsent(
        checkpoint,
        t -> {
          List<JobEvent> events = new ArrayList<>();
          JobEvent end = LocalJob.run(spec(t), fresh("finetune"), events::add).end();
          JobEvent.Finished f =
              assertInstanceOf(JobEvent.Finished.class, end, () -> "local run ended with " + end);
          assertTrue(
              f.exported().containsKey("model.onnx") && f.exported().containsKey("config.json"),
              f.exported()::toString);
          assertTrue(f.finalEval().metrics().containsKey("perplexity"), f.finalEval()::toString);
          return f.adapterSha256();
        });
  }

  private static JobEvent.Finished pipeline(JobSpec spec, int workers, List<JobEvent> events) {
    JobEvent end = EmbeddedJob.run(spec, workers, LocalWorkers.factory(), fresh("workers-" + workers), events::add,
        Duration.ofMinutes(10));
    return assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
  }

  @Test
  void causalLmAdapterIsIdenticalInOneProcessAndOnOneAndThreeWorkers() throws IOException {
    List<JobEvent> events = new ArrayList<>();
    JobEvent.Finished one = pipeline(spec(false), 1, events);
    assertEquals(reference(false), one.adapterSha256(), "1 worker");
    assertEquals(reference(false), pipeline(spec(false), 3, new ArrayList<>()).adapterSha256(), "3 workers");
    JobEvent.Evaluated last = one.finalEval();
    assertEquals(
        Math.exp(last.loss()),
        last.metrics().get("perplexity"),
        1e-9,
        "perplexity of the per-token eval loss");
    assertTrue(events.stream().anyMatch(e -> e instanceof JobEvent.StepDone d && d.metrics().containsKey("perplexity")),
        "training steps report perplexity");
    PeftAdapter adapter = PeftAdapter.read(one.adapterDir());
    assertEquals("CAUSAL_LM", adapter.config().taskType());
    assertEquals(List.of("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"),
        adapter.config().targetModules(), "PEFT's expanded all-linear");
    assertTrue(adapter.savedModules().isEmpty(), "a causal LM saves no head");
  }

  @Test
  void chatAdapterIsIdenticalInOneProcessAndOnOneAndThreeWorkers() {
    JobEvent end = LocalJob.run(chatSpec(), fresh("chat-finetune"), e -> {}).end();
    String local = assertInstanceOf(JobEvent.Finished.class, end, () -> "chat local run ended with " + end)
        .adapterSha256();
    assertEquals(local, pipeline(chatSpec(), 1, new ArrayList<>()).adapterSha256(), "chat, 1 worker");
    assertEquals(local, pipeline(chatSpec(), 3, new ArrayList<>()).adapterSha256(), "chat, 3 workers");
  }

  @Test
  void tiedEmbeddingBf16CheckpointGivesTheSameAdapterOnTwoWorkers() {
    assertEquals(reference(true), pipeline(spec(true), 2, new ArrayList<>()).adapterSha256());
  }

  @Test
  void qwen2AndLlama3RopeCheckpointsGiveTheSameAdapterInOneProcessAndOnTwoWorkers() {
    for (String checkpoint : List.of(QWEN2, LLAMA3)) {
      assertEquals(reference(checkpoint), pipeline(spec(checkpoint), 2, new ArrayList<>()).adapterSha256(),
          checkpoint);
    }
  }

  @Test
  void coordinatorKilledAfterACheckpointResumesToTheSameAdapter() {
    Path out = fresh("resumed");
    JobEvent aborted = EmbeddedJob.run(spec(false), 2, LocalWorkers.factory(), out, e -> {},
        e -> e instanceof JobEvent.Checkpointed c && c.step() == 2, Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Failed.class, aborted, "the first run is torn down after the step-2 checkpoint");
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec(false), 3, LocalWorkers.factory(), out, events::add, Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "resumed job ended with " + end);
    assertTrue(
        events.stream()
            .anyMatch(
                e ->
                    e instanceof JobEvent.PhaseChanged p
                        && p.detail().contains("resuming after step 2")),
        () -> "the second run resumed from the checkpoint: " + events);
    assertEquals(reference(false), ((JobEvent.Finished) end).adapterSha256());
  }

  private static Path fresh(String name) {
    return dir.resolve(name + "-" + System.nanoTime());
  }
}
