package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.runtime.LocalJob;
import dev.loraone.worker.export.OnnxCausalLm;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.train.LlamaStepper;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The families a user brings, through {@code loraone serve} (2 local workers): a tied bf16 sharded Qwen2
 * checkpoint whose tokenizer adds no BOS, fine-tuned on chat records rendered with its ChatML-shaped
 * template; a Llama 3 checkpoint with {@code rope_scaling} llama3 and a Mistral checkpoint with a
 * {@code sliding_window}, both on prompt/completion records. Each job's adapter has the SHA-256 of the
 * same job run in one process ({@code loraone finetune}), and the job's merged ONNX export decodes the same
 * greedy tokens in ONNX Runtime (its KV cache) as the checkpoint with the job's PEFT adapter in DJL. A
 * Mistral job longer than the window is refused at submission, naming {@code sliding_window}.
 */
class CausalLmFamiliesServiceIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration JOB = Duration.ofMinutes(4);
  private static final List<String> PROMPTS = List.of("w20 w21", "w33 w8 w41");
  @TempDir static Path dir;

  @BeforeAll
  static void writeCheckpointsAndTasks() throws IOException {
    Path qwen2 = dir.resolve("qwen2");
    LlamaFixture.write(qwen2, Spec.qwen2(true), 46, DType.BF16, true);
    LlamaFixture.writeTokenizer(qwen2, Spec.qwen2(true));
    LlamaFixture.writeQwen2TokenizerConfig(qwen2);
    Spec llama3 = Spec.tiny(false).withRope(LlamaFixture.Rope.llama3());
    LlamaFixture.write(dir.resolve("llama3"), llama3, 47, DType.F32, false);
    LlamaFixture.writeTokenizer(dir.resolve("llama3"), llama3);
    LlamaFixture.write(dir.resolve("mistral"), Spec.mistral(false), 48, DType.BF16, true);
    LlamaFixture.writeTokenizer(dir.resolve("mistral"), Spec.mistral(false));
    Random r = new Random(11);
    List<String> pairs = new ArrayList<>();
    List<String> chats = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      String prompt = "w" + (13 + r.nextInt(37)) + " w" + (13 + r.nextInt(37));
      String completion = "w10 w11" + " w12".repeat(1 + i % 3);
      pairs.add(JSON.writeValueAsString(Map.of("prompt", prompt, "completion", completion)));
      List<Map<String, String>> m = new ArrayList<>();
      if (i % 2 == 1) m.add(Map.of("role", "system", "content", "w8 w9"));
      m.add(Map.of("role", "user", "content", prompt));
      m.add(Map.of("role", "assistant", "content", completion));
      chats.add(JSON.writeValueAsString(Map.of("messages", m)));
    }
    Files.write(dir.resolve("pairs.jsonl"), pairs);
    Files.write(dir.resolve("chat.jsonl"), chats);
  }

  /** A short LoRA-One job on a checkpoint and a task file, its ONNX export on. */
  private static String job(String name, String checkpoint, String task, int maxLength) {
    Map<String, Object> m = new HashMap<>(Map.ofEntries(Map.entry("name", name), Map.entry("seed", 9),
        Map.entry("model", dir.resolve(checkpoint).toString()), Map.entry("task", dir.resolve(task).toString()),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "all-linear"),
        Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4), Map.entry("init.iters", 2),
        Map.entry("init.shards", 2), Map.entry("optimizer.name", "scaled-adamw"), Map.entry("optimizer.lr", 2e-2),
        Map.entry("train.steps", 6), Map.entry("train.batch", 4), Map.entry("train.micro-batch", 2),
        Map.entry("train.max-length", maxLength), Map.entry("eval.every", 3), Map.entry("eval.examples", 8),
        Map.entry("export.onnx", true)));
    return JobSpec.of(m).render();
  }

  @Test
  void qwen2ChatLlama3AndMistralJobsMatchTheirLocalRunsAndTheirExportsDecodeAsDjl() throws Exception {
    Map<String, String> jobs = new LinkedHashMap<>();
    jobs.put("qwen2", job("qwen2-chat", "qwen2", "chat.jsonl", 32));
    jobs.put("llama3", job("llama3-rope", "llama3", "pairs.jsonl", 16));
    jobs.put("mistral", job("mistral-window", "mistral", "pairs.jsonl", LlamaFixture.MISTRAL_WINDOW));
    Map<String, String> expected = new LinkedHashMap<>();
    for (var e : jobs.entrySet()) {
      JobSpec spec = JobSpec.parseString(e.getValue(), e.getKey());
      JobEvent end = LocalJob.run(spec, dir.resolve("local-" + e.getKey()), x -> {}).end();
      expected.put(e.getKey(), assertInstanceOf(JobEvent.Finished.class, end, () -> e.getKey() + ": " + end)
          .adapterSha256());
    }
    Path data = dir.resolve("data");
    try (ServiceProcess service = ServiceProcess.start(dir, data, ServiceProcess.freePort(),
        List.of("--workers", "2", "--max-concurrent", "3"))) {
      ServiceProcess.Response tooLong = service.post("/jobs",
          job("mistral-too-long", "mistral", "pairs.jsonl", LlamaFixture.MISTRAL_WINDOW + 1));
      assertEquals(400, tooLong.status(), tooLong.body()::toString);
      String why = tooLong.body().toString();
      assertTrue(why.contains("'job.train.max-length' = 33") && why.contains("'sliding_window' = 32"), why);

      Map<String, String> ids = new LinkedHashMap<>();
      for (var e : jobs.entrySet()) {
        ServiceProcess.Response r = service.post("/jobs", e.getValue());
        assertEquals(201, r.status(), () -> e.getKey() + ": " + r.body());
        ids.put(e.getKey(), r.body().path("id").asText());
      }
      for (var e : ids.entrySet()) {
        JsonNode end = service.awaitEnd(e.getValue(), JOB);
        assertEquals("SUCCEEDED", end.path("state").asText(), () -> e.getKey() + ": " + end + "\n"
            + service.describe());
        assertEquals(expected.get(e.getKey()), end.path("adapterSha256").asText(),
            e.getKey() + ": the service's adapter is the one-process run's");
        Path out = data.resolve("jobs").resolve(e.getValue()).resolve("out");
        assertDecodesAsDjl(e.getKey(), dir.resolve(e.getKey()), out.resolve("adapter"), out.resolve("model"));
      }
    }
  }

  /** Greedy tokens of the checkpoint + adapter in DJL equal the merged export's in ONNX Runtime. */
  private static void assertDecodesAsDjl(String what, Path checkpoint, Path adapter, Path export)
      throws Exception {
    try (LlamaStepper djl = LlamaArtifacts.load(checkpoint, PeftAdapter.read(adapter));
        OnnxCausalLm ort = OnnxCausalLm.open(export, 1)) {
      for (String prompt : PROMPTS) {
        LlamaArtifacts.Generation a = LlamaArtifacts.generate(djl.model(), checkpoint.resolve("tokenizer.json"),
            prompt, 8);
        LlamaArtifacts.Generation b = LlamaArtifacts.generate(ort, export.resolve("tokenizer.json"), prompt, 8);
        assertEquals(a.promptTokens(), b.promptTokens(), what + ": prompt tokens of " + prompt);
        assertArrayEquals(a.tokens(), b.tokens(), what + ": greedy tokens of " + prompt + " (DJL " + a.text()
            + ", ONNX Runtime " + b.text() + ")");
      }
    }
    if (what.equals("qwen2")) {
      try (OnnxCausalLm ort = OnnxCausalLm.open(export, 1)) {
        assertEquals(2, LlamaArtifacts.generate(ort, export.resolve("tokenizer.json"), "w20 w21", 1).promptTokens(),
            "Qwen2's tokenizer_config.json says bos_token null: no BOS before the prompt");
      }
    }
  }
}
