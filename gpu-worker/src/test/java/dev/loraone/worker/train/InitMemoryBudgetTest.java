package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.core.init.InitGroups;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code init.memory-budget} changes memory and passes, never bits: the gradient of a kept weight is
 * the same whichever other weights take one, and the adapter after the init and a training step is
 * the same bytes for budgets 0 (one group), a third of the sums (a few groups) and 1 byte (a group per
 * module), for LoRA-One (randomized and exact SVD) and LoRA-GA, on MiniLM (classification; embedding for
 * LoRA-One) and on a tiny Llama.
 */
class InitMemoryBudgetTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static Path llama;
  private static Path task;

  @BeforeAll
  static void writeLlamaAndTask() throws IOException {
    LlamaFixture.Spec spec = LlamaFixture.Spec.tiny(false);
    llama = dir.resolve("tiny-llama");
    LlamaFixture.write(llama, spec, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(llama, spec);
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      StringBuilder prompt = new StringBuilder();
      for (int w = 0, n = 2 + r.nextInt(4); w < n; w++)
        prompt.append(w > 0 ? " " : "").append("w").append(3 + r.nextInt(47));
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt.toString(), "completion", "w10 w11 w12")));
    }
    task = dir.resolve("task.jsonl");
    Files.write(task, lines);
  }

  private static FinetuneConfig minilm(String init, String mode) {
    Map<String, Object> o = new HashMap<>();
    o.put("init", init);
    o.put("initMode", mode);
    o.put("rank", 4);
    o.put("targets", mode.equals("randomized") ? "query,value,output.dense" : "query,value"); // exact SVDs: small
    o.put("steps", 1);
    o.put("batch", 4);
    o.put("microBatch", 4);
    o.put("initBatch", 4);
    o.put("initIters", 2);
    o.put("initShards", 2);
    o.put("maxLength", 24);
    o.put("maxPerClass", 3);
    o.put("evalExamples", 8);
    o.put("evalEvery", 0);
    o.put("seed", 5L);
    o.put("headInit", "random");
    return CausalLmLocalRunTest.config(o);
  }

  private static FinetuneConfig llama(String init, String mode, boolean checkpointing) {
    Map<String, Object> o = new HashMap<>();
    o.put("model", llama.toString());
    o.put("task", task.toString());
    o.put("init", init);
    o.put("initMode", mode);
    o.put("rank", 2);
    o.put("alpha", 4.0);
    o.put("targets", "all-linear");
    o.put("lr", 2e-2);
    o.put("steps", 1);
    o.put("batch", 4);
    o.put("microBatch", 4);
    o.put("initBatch", 4);
    o.put("initIters", 2);
    o.put("initShards", 2);
    o.put("maxLength", 16);
    o.put("evalExamples", 8);
    o.put("evalEvery", 0);
    o.put("seed", 5L);
    o.put("activationCheckpointing", checkpointing);
    return CausalLmLocalRunTest.config(o);
  }

  /** The adapter file's bytes after a run, and the phase details it reported. */
  private record Run(byte[] weights, List<String> phases) {}

  private static Run run(FinetuneConfig cfg, String name) throws IOException {
    List<String> phases = new ArrayList<>();
    try (LocalRun f = LocalRun.open(cfg, "budget")) {
      LocalRun.Result r = f.run(e -> {
        if (e instanceof JobEvent.PhaseChanged p) phases.add(p.phase() + ": " + p.detail());
      });
      Path out = dir.resolve(name);
      r.adapter().write(out);
      return new Run(Files.readAllBytes(out.resolve(PeftAdapter.WEIGHTS_FILE)), phases);
    }
  }

  /** Budgets 0, a third of every module's sums (a few groups) and 1 byte (a group per module). */
  private static void sameAdapterForEveryBudget(FinetuneConfig cfg, String name) throws IOException {
    long total = 0;
    int modules;
    try (WorkerEngine e = WorkerEngine.open(cfg)) {
      for (EngineLayout.ModuleShape m : e.layout().modules())
        total += InitGroups.bytes(m.out(), m.in(), cfg.initShards());
      modules = e.layout().modules().size();
      assertEquals(1, e.initGroups().size(), "budget 0: one group");
      assertTrue(e.withBudget(total / 3).size() >= 3, "a third of the sums: three groups or more");
      assertEquals(modules, e.withBudget(1).size(), "1 byte: a group per module");
    }
    Run unbounded = run(cfg, name + "-0");
    Run third = run(cfg.withInitMemoryBudget(total / 3), name + "-third");
    Run tiny = run(cfg.withInitMemoryBudget(1), name + "-tiny");
    assertArrayEquals(unbounded.weights(), third.weights(), name + ": a third of the sums");
    assertArrayEquals(unbounded.weights(), tiny.weights(), name + ": a module per group");
    if (cfg.init().equals("lora-one")) {
      String last = "module group " + modules + " of " + modules;
      assertTrue(tiny.phases().stream().anyMatch(p -> p.contains(last)), "the phase events name the group: "
          + tiny.phases());
    }
  }

  @Test
  void minilmLoraOneRandomizedIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(minilm("lora-one", "randomized"), "minilm-one-rand");
  }

  @Test
  void minilmLoraOneExactIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(minilm("lora-one", "exact"), "minilm-one-exact");
  }

  @Test
  void minilmLoraGaIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(minilm("lora-ga", "exact"), "minilm-ga");
  }

  @Test
  void llamaLoraOneRandomizedIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(llama("lora-one", "randomized", false), "llama-one-rand");
  }

  @Test
  void llamaLoraOneExactIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(llama("lora-one", "exact", false), "llama-one-exact");
  }

  @Test
  void llamaLoraGaIsTheSameBytesForAnyBudget() throws IOException {
    sameAdapterForEveryBudget(llama("lora-ga", "exact", false), "llama-ga");
  }

  @Test
  void minilmEmbeddingLoraOneIsTheSameBytesForAnyBudget() throws IOException {
    Path emb = dir.resolve("embedding");
    Files.createDirectories(emb);
    EmbeddingWorkloadTest.writePairs(emb.resolve("train.jsonl"), 24, 0);
    EmbeddingWorkloadTest.writePairs(emb.resolve("eval.jsonl"), 8, 50);
    Map<String, Object> job = EmbeddingWorkloadTest.job(emb);
    job.put("train.steps", 1);
    job.put("eval.examples", 8);
    sameAdapterForEveryBudget(FinetuneConfig.fromJob(dev.loraone.protocol.job.JobSpec.of(job)), "minilm-embedding");
  }

  /** On the CPU, a weight's gradient is the same bits when only it, or every adapted weight, takes one. */
  @Test
  void aKeptWeightsGradientDoesNotDependOnWhichOthersTakeOne() throws IOException {
    for (FinetuneConfig cfg : List.of(minilm("lora-one", "randomized"), llama("lora-one", "randomized", false),
        llama("lora-one", "randomized", true))) {
      try (WorkerEngine e = WorkerEngine.open(cfg)) {
        Workload w = e.work();
        int[] order = e.plan().permutation(0);
        Workload.Input in = w.encodeInit(0, java.util.Arrays.copyOfRange(order, 0, cfg.initBatch()));
        Workload.InitUnit all = w.initGradients(in);
        List<String> modules = w.model().adaptedModules();
        for (String m : modules) {
          Workload.InitUnit one = w.initGradients(in, List.of(m));
          assertEquals(List.of(m), List.copyOf(one.weights().keySet()));
          assertArrayEquals(all.weights().get(m), one.weights().get(m), cfg.model() + " " + m);
          assertEquals(all.loss(), one.loss());
        }
        int half = modules.size() / 2;
        Workload.InitUnit back = w.initGradients(in, modules.subList(half, modules.size()));
        assertArrayEquals(all.weights().get(modules.get(half)), back.weights().get(modules.get(half)));
      }
    }
  }
}
