package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-process loop ({@link LocalRun}) on a causal LM end to end on a tiny random Llama checkpoint and a tiny
 * prompt/completion file: it learns, it is deterministic to the bit, and it writes a PEFT adapter
 * that HF PEFT would load onto {@code LlamaForCausalLM} and that loads back for generation.
 */
class CausalLmLocalRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static Path checkpoint;
  private static Path qwen2;
  private static Path task;

  /** 40 records: a random 2..5-word prompt, always completed by the same three words. */
  @BeforeAll
  static void writeCheckpointAndTask() throws IOException {
    Spec spec = Spec.tiny(false);
    checkpoint = dir.resolve("tiny-llama");
    LlamaFixture.write(checkpoint, spec, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(checkpoint, spec);
    qwen2 = dir.resolve("tiny-qwen2");
    LlamaFixture.write(qwen2, Spec.qwen2(true), 42, DType.BF16, true);
    LlamaFixture.writeTokenizer(qwen2, Spec.qwen2(true));
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder prompt = new StringBuilder();
      for (int w = 0, n = 2 + r.nextInt(4); w < n; w++)
        prompt.append(w > 0 ? " " : "").append("w").append(3 + r.nextInt(47));
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt.toString(), "completion", "w10 w11 w12")));
    }
    task = dir.resolve("task.jsonl");
    Files.write(task, lines);
  }

  /** Defaults with overrides by record component name; survives new FinetuneConfig fields. */
  static FinetuneConfig config(Map<String, Object> overrides) {
    try {
      FinetuneConfig d = FinetuneConfig.defaults();
      RecordComponent[] rc = FinetuneConfig.class.getRecordComponents();
      Object[] args = new Object[rc.length];
      Class<?>[] types = new Class<?>[rc.length];
      Map<String, Object> left = new HashMap<>(overrides);
      for (int i = 0; i < rc.length; i++) {
        types[i] = rc[i].getType();
        args[i] = left.containsKey(rc[i].getName()) ? left.remove(rc[i].getName()) : rc[i].getAccessor().invoke(d);
      }
      assertTrue(left.isEmpty(), "unknown FinetuneConfig fields " + left.keySet());
      return FinetuneConfig.class.getDeclaredConstructor(types).newInstance(args);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static FinetuneConfig small(String init, String targets) {
    return small(init, targets, Map.of());
  }

  private static FinetuneConfig small(String init, String targets, Map<String, Object> more) {
    Map<String, Object> o = new HashMap<>();
    o.put("model", checkpoint.toString());
    o.put("task", task.toString());
    o.put("init", init);
    o.put("optimizer", "adamw");
    o.put("rank", 2);
    o.put("alpha", 4.0);
    o.put("targets", targets);
    o.put("dropout", 0.0);
    o.put("lr", 2e-2);
    o.put("schedule", "constant");
    o.put("warmup", 0);
    o.put("steps", 6);
    o.put("batch", 8);
    o.put("microBatch", 4);
    o.put("initBatch", 4);
    o.put("initIters", 2);
    o.put("initShards", 2);
    o.put("maxLength", 16);
    o.put("evalExamples", 16);
    o.put("evalEvery", 3);
    o.put("seed", 5L);
    o.putAll(more);
    return config(o);
  }

  private static LocalRun.Result run(FinetuneConfig cfg) throws IOException {
    try (LocalRun f = LocalRun.open(cfg, "test")) {
      return f.run(e -> {});
    }
  }

  @Test
  void learnsIsBitIdenticalOnRerunAndWritesAPeftCausalLmAdapter() throws IOException {
    FinetuneConfig cfg = small("lora-one", "all-linear");
    long t0 = System.nanoTime();
    LocalRun.Result first = run(cfg);
    System.out.printf("CausalLmLocalRunTest: run %.2fs; eval loss %s%n", (System.nanoTime() - t0) / 1e9,
        first.evals().stream().map(e -> String.format("@%d %.4f (ppl %.2f)", e.step(), e.loss(), ppl(e))).toList());
    List<JobEvent.Evaluated> evals = first.evals();
    assertEquals(List.of(3, 6), evals.stream().map(JobEvent.Evaluated::step).toList());
    assertTrue(evals.get(1).loss() < evals.get(0).loss(), "eval loss decreases: " + evals);
    assertEquals(Math.exp(first.finalEval().loss()), ppl(first.finalEval()), 1e-9);
    assertTrue(first.finalEval().metrics().get("tokens") > 0, "eval counts completion tokens: " + first.finalEval());
    assertTrue(first.steps().get(5).loss() < first.steps().get(0).loss(), "training loss decreases: " + first.steps());
    assertEquals("causal-lm", first.taskType());
    double em = first.finalEval().metrics().get("exact_match");
    assertTrue(em >= 0.6 && em <= 1, "greedy decoding completes most eval prompts with the learned completion: "
        + first.finalEval()); // 4 of 5 at these seeds
    assertTrue(em > evals.get(0).metrics().get("exact_match"), "exact match grows with training: " + evals);

    first.adapter().write(dir.resolve("a"));
    run(cfg).adapter().write(dir.resolve("b"));
    assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(PeftAdapter.WEIGHTS_FILE)),
        Files.readAllBytes(dir.resolve("b").resolve(PeftAdapter.WEIGHTS_FILE)), "same config, same adapter bytes");

    Map<String, TensorBlob> tensors = SafeTensors.read(dir.resolve("a").resolve(PeftAdapter.WEIGHTS_FILE)).tensors();
    assertEquals(2 * 7 * 2, tensors.size(), "A and B of 7 projections in 2 layers");
    assertArrayEquals(
        new long[] {2, 32},
        tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape());
    assertArrayEquals(
        new long[] {16, 2},
        tensors.get("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight").shape());
    assertArrayEquals(
        new long[] {32, 2},
        tensors.get("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape());
    assertFalse(tensors.keySet().stream().anyMatch(k -> k.contains("lm_head")), "all-linear never adapts lm_head");
    JsonNode c = JSON.readTree(dir.resolve("a").resolve(PeftAdapter.CONFIG_FILE).toFile());
    assertEquals("CAUSAL_LM", c.get("task_type").asText());
    assertEquals("LORA", c.get("peft_type").asText());
    assertEquals(2, c.get("r").asInt());
    assertTrue(c.get("use_rslora").asBoolean());
    assertEquals(List.of("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"),
        JSON.convertValue(c.get("target_modules"), List.class));
    assertTrue(c.get("modules_to_save").isNull(), "a causal LM saves no head");

    String q = "model.layers.0.self_attn.q_proj";
    try (LlamaStepper loaded = LlamaArtifacts.load(checkpoint, PeftAdapter.read(dir.resolve("a")))) {
      assertArrayEquals(first.adapter().modules().get(q).b().toFloats(), loaded.model().getLoraB(q));
      LlamaArtifacts.Generation g =
          LlamaArtifacts.generate(
              loaded.model(), checkpoint.resolve("tokenizer.json"), "w20 w33", 4);
      assertEquals(3, g.promptTokens(), "BOS + two words");
      assertEquals("w10 w11 w12", g.text(), "greedy decoding reproduces the learned completion, then EOS");
    }
  }

  /** train.activation-checkpointing changes memory, not bits: LoRA-One's full gradient and the dropout steps agree. */
  @Test
  void activationCheckpointingGivesTheSameAdapterBytes() throws IOException {
    Map<String, Object> o = new HashMap<>();
    o.put("steps", 3);
    o.put("evalEvery", 0);
    o.put("dropout", 0.1);
    FinetuneConfig off = small("lora-one", "all-linear", o);
    assertFalse(off.activationCheckpointing(), "off by default");
    LocalRun.Result plain = run(off);
    LocalRun.Result checkpointed = run(off.withActivationCheckpointing(true));
    plain.adapter().write(dir.resolve("ckpt-off"));
    checkpointed.adapter().write(dir.resolve("ckpt-on"));
    assertArrayEquals(Files.readAllBytes(dir.resolve("ckpt-off").resolve(PeftAdapter.WEIGHTS_FILE)),
        Files.readAllBytes(dir.resolve("ckpt-on").resolve(PeftAdapter.WEIGHTS_FILE)));
    assertEquals(plain.steps().get(2).loss(), checkpointed.steps().get(2).loss());
  }

  /** Qwen2 (tied, bf16 shards, q/k/v biases): the same loop learns; the adapter is LoRA only, biases stay base. */
  @Test
  void qwen2CheckpointLearnsAndItsBiasFreeAdapterLoadsBackAndExports() throws IOException {
    LocalRun.Result r = run(small("lora-one", "all-linear", Map.of("model", qwen2.toString())));
    System.out.printf("CausalLmLocalRunTest: qwen2 train loss %.4f -> %.4f, eval %s%n", r.steps().get(0).loss(),
        r.steps().get(5).loss(), r.evals().stream().map(e -> String.format("%.4f", e.loss())).toList());
    assertTrue(r.steps().get(5).loss() < r.steps().get(0).loss(), "training loss decreases: " + r.steps());
    assertTrue(r.evals().get(1).loss() < r.evals().get(0).loss(), "eval loss decreases: " + r.evals());
    Path a = dir.resolve("qwen2-adapter");
    r.adapter().write(a);
    Map<String, TensorBlob> tensors = SafeTensors.read(a.resolve(PeftAdapter.WEIGHTS_FILE)).tensors();
    assertEquals(2 * 7 * 2, tensors.size(), "A and B of 7 projections in 2 layers, no bias");
    JsonNode c = JSON.readTree(a.resolve(PeftAdapter.CONFIG_FILE).toFile());
    assertEquals("none", c.get("bias").asText(), "PEFT bias none: the base keeps its biases");
    try (LlamaStepper loaded = LlamaArtifacts.load(qwen2, PeftAdapter.read(a))) {
      assertTrue(loaded.model().linear("model.layers.0.self_attn.k_proj").hasBias());
      LlamaArtifacts.Generation g = LlamaArtifacts.generate(loaded.model(), qwen2.resolve("tokenizer.json"),
          "w20 w33", 4);
      System.out.println("CausalLmLocalRunTest: qwen2 greedy 'w20 w33' -> " + Arrays.toString(g.tokens()));
      // After 6 steps this prompt decodes straight to EOS ([2]); the tiny llama fixture's test checks the text.
      assertTrue(g.tokens().length >= 1 && g.tokens().length <= 4, "greedy decoding runs on the adapted qwen2");
      Path model = dir.resolve("qwen2-model");
      LlamaArtifacts.writeOnnx(loaded.model(), qwen2, model);
      assertTrue(Files.size(model.resolve("model.onnx")) > 0 && Files.isRegularFile(model.resolve("config.json")));
    }
  }

  /**
   * train.bucket-by-length regroups each step's examples by token length: every micro-batch of a step
   * holds rows no longer than the next one's, the step keeps exactly the plan's examples, and the
   * padded share (StepDone's padding metric) drops; the job still learns.
   */
  @Test
  void lengthBucketsRegroupEachStepByLengthAndCutThePadding() throws IOException {
    FinetuneConfig plain = small("lora", "all-linear", Map.of("bucketByLength", false, "steps", 4));
    FinetuneConfig bucketed = small("lora", "all-linear", Map.of("bucketByLength", true, "steps", 4));
    try (WorkerEngine e = WorkerEngine.open(bucketed); WorkerEngine p = WorkerEngine.open(plain)) {
      for (long first = 0; first < 8; first += 2) {
        int[] a = e.trainExamples(first);
        int[] b = e.trainExamples(first + 1);
        int[] both = java.util.stream.IntStream.concat(java.util.Arrays.stream(a), java.util.Arrays.stream(b))
            .sorted().toArray();
        int[] planned = java.util.stream.IntStream.concat(java.util.Arrays.stream(p.trainExamples(first)),
            java.util.Arrays.stream(p.trainExamples(first + 1))).sorted().toArray();
        assertArrayEquals(planned, both, "the step's examples, regrouped");
        int longestA = java.util.Arrays.stream(a).map(i -> e.work().trainLength(i)).max().orElseThrow();
        int shortestB = java.util.Arrays.stream(b).map(i -> e.work().trainLength(i)).min().orElseThrow();
        assertTrue(longestA <= shortestB, "micro-batch " + first + " holds the step's shorter rows");
      }
    }
    LocalRun.Result off = run(plain);
    LocalRun.Result on = run(bucketed);
    double padOff = off.steps().stream().mapToDouble(s -> s.metrics().get("padding")).sum();
    double padOn = on.steps().stream().mapToDouble(s -> s.metrics().get("padding")).sum();
    System.out.printf("CausalLmLocalRunTest: padding over 4 steps %.3f plain, %.3f bucketed%n", padOff / 4, padOn / 4);
    assertTrue(padOn < padOff, "bucketing pads less: " + padOn + " vs " + padOff);
    assertTrue(on.steps().get(3).loss() < on.steps().get(0).loss(), "it learns: " + on.steps());
  }

  private static double ppl(JobEvent.Evaluated e) {
    return e.metrics().get("perplexity");
  }

  @Test
  void baseModifyingInitExportsTheRank2rDifference() throws IOException {
    Map<String, Object> o = new HashMap<>();
    o.put("steps", 2);
    o.put("evalEvery", 0);
    PeftAdapter a = run(small("pissa", "q_proj,v_proj", o)).adapter();
    assertEquals(4, a.config().r(), "PiSSA (W0 modified) is exported as rank 2r");
    assertEquals(List.of("q_proj", "v_proj"), a.config().targetModules());
    assertEquals(4, a.modules().size());
  }

  @Test
  void unknownTargetsAndBertStyleTasksAreRejected() throws IOException {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(small("lora", "query,q_proj")));
    assertTrue(e.getMessage().contains("'query'") && e.getMessage().contains("q_proj"), e.getMessage());
    Path classification = dir.resolve("cls.jsonl");
    Files.writeString(classification, "{\"text\": \"w3 w4\", \"label\": \"a\"}\n");
    Map<String, Object> o = new HashMap<>();
    o.put("model", checkpoint.toString());
    o.put("task", classification.toString());
    e = assertThrows(IllegalArgumentException.class, () -> run(config(o)));
    assertTrue(e.getMessage().contains("{prompt,completion}"), e.getMessage());
    assertEquals(ModelFamily.LLAMA, ModelFamily.detect(checkpoint.toString()));
    assertEquals(ModelFamily.LLAMA, ModelFamily.detect(qwen2.toString()), "model_type qwen2 is the Llama architecture");
    assertEquals(ModelFamily.BERT, ModelFamily.detect("minilm"));
    e = assertThrows(IllegalArgumentException.class, () -> ModelFamily.detect(dir.toString()));
    assertTrue(e.getMessage().contains("'job.model'") && e.getMessage().contains("no config.json"), e.getMessage());
  }

  @Test
  void aTaskTypeTheModelFamilyDoesNotTrainIsRefusedNamingTheKeys() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FinetuneConfig.fromJob(
        dev.loraone.protocol.job.JobSpec.of(Map.of("model", checkpoint.toString(), "task", task.toString(),
            "task.type", "classification"))));
    assertTrue(e.getMessage().contains("'job.task.type' = classification") && e.getMessage().contains("causal-lm"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> FinetuneConfig.fromJob(
        dev.loraone.protocol.job.JobSpec.of(Map.of("model", "minilm", "task.type", "causal-lm"))));
    assertTrue(e.getMessage().contains("'job.model' = minilm") && e.getMessage().contains("Llama"), e.getMessage());
    assertEquals(task.toString(), FinetuneConfig.fromJob(dev.loraone.protocol.job.JobSpec.of(Map.of("model",
        checkpoint.toString(), "task", task.toString(), "task.type", "causal-lm"))).task());
  }

  @Test
  void aCompletionThatTruncationWouldCutAwayIsNamedWithItsFileAndLine() throws IOException {
    Path bad = dir.resolve("long-prompt.jsonl");
    List<String> lines = new ArrayList<>(Files.readAllLines(task).subList(0, 30));
    lines.add(2, JSON.writeValueAsString(Map.of("prompt", "w5 ".repeat(20).trim(), "completion", "w10 w11 w12")));
    Files.write(bad, lines);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> run(small("lora", "q_proj", Map.of("task", bad.toString()))));
    assertTrue(e.getMessage().contains("long-prompt.jsonl:3") && e.getMessage().contains("'job.train.max-length' = 16")
        && e.getMessage().contains("no room for its completion"), e.getMessage());
  }
}
