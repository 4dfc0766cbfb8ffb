package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The estimate's terms move with what drives them; its size against real runs is CapacityEstimateIT's. */
class JobEstimateTest {
  static JobEstimate of(Map<String, Object> keys) {
    return JobEstimate.of(JobSpec.of(keys));
  }

  @Test
  void miniLmHasItsParameterCountAndEachTermGrowsWithItsDriver() {
    JobEstimate base = of(Map.of("export.onnx", false, "init.method", "lora", "train.max-length", 64));
    assertEquals(22_713_216, base.parameters(), "all-MiniLM-L6-v2 with its pooler: 22.7 M parameters");
    long w = 4 * base.parameters();
    long measured = JobEstimate.FIXED + 6 * JobEstimate.PER_LAYER;
    assertTrue(base.bytes() > 3 * w + measured && base.bytes() < 3 * w + measured + (512L << 20), base::describe);
    assertEquals(2 * w, of(Map.of("export.onnx", true, "init.method", "lora", "train.max-length", 64)).bytes()
        - base.bytes(), "export: 2W");
    JobEstimate longer = of(Map.of("export.onnx", false, "init.method", "lora", "train.max-length", 256));
    assertTrue(longer.bytes() > base.bytes() + (200L << 20), longer::describe);
    long sums = of(Map.of("export.onnx", false, "init.method", "lora-one", "lora.targets", "query")).bytes()
        - of(Map.of("export.onnx", false, "init.method", "lora", "lora.targets", "query")).bytes();
    assertEquals(12L * 6 * 384 * 384, sums, "float64 sums and one fp32 gradient of 6 query matrices");
    long bounded = of(Map.of("export.onnx", false, "init.method", "lora-one", "lora.targets", "query",
        "init.memory-budget", 1000)).bytes()
        - of(Map.of("export.onnx", false, "init.method", "lora", "lora.targets", "query")).bytes();
    assertEquals(12L * 384 * 384, bounded, "a budget below one module: that module's sums and gradient");
    long two = 2L * 8 * 384 * 384;
    long twoModules = of(Map.of("export.onnx", false, "init.method", "lora-one", "lora.targets", "query",
        "init.memory-budget", two)).bytes()
        - of(Map.of("export.onnx", false, "init.method", "lora", "lora.targets", "query")).bytes();
    assertEquals(two + two / 2, twoModules, "init.memory-budget bounds the float64 sums and a pass's gradients");
    assertTrue(base.describe().contains("weights 87 MiB"), base::describe);
  }

  /**
   * A Llama-3.2-1B-shaped folder: the memory features the engine has (chunked loading, the chunked loss of a
   * frozen head, checkpointing, budgeted init passes) are what the scheduler reserves, so its LoRA-One job
   * with init.memory-budget = 2g and checkpointing fits a `serve` node at -Xmx8g (auto: 16 GiB). It runs in
   * 11.2 GB of RSS, runtime included (docs/results/shared-base-model.md).
   */
  @Test
  void aLlamaJobReservesWhatItsMemoryFeaturesLeave(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("config.json"), """
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 128256, "hidden_size": 2048,
         "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
         "max_position_embeddings": 131072, "tie_word_embeddings": true}
        """);
    long h = 2048;
    long i = 8192;
    long full = 16 * (2 * h * h + 2 * h * 512 + 3 * h * i); // every linear module of the 16 layers
    JobEstimate lora = llama(dir, "lora", 0, false, "all-linear");
    long w = 4 * lora.parameters();
    assertEquals(1_235_814_400L, lora.parameters(), "Llama-3.2-1B: 1.24 B parameters, tied");
    assertTrue(lora.describe().contains("load " + dev.loraone.runtime.NodeMemory.show(w / 2)), lora::describe);
    assertTrue(lora.describe().contains("logits 191 MiB"), "a frozen head's loss in chunks: " + lora.describe());
    JobEstimate headTarget = llama(dir, "lora", 0, false, "q_proj,lm_head");
    assertTrue(headTarget.describe().contains("logits 752 MiB"), "lm_head adapted: " + headTarget.describe());
    long perLayer = 4L * 512 * (10 * h + 5 * i + 3 * 32 * 512);
    assertEquals(16 * perLayer - (16 * 4L * 512 * h + perLayer),
        lora.bytes() - llama(dir, "lora", 0, true, "all-linear").bytes(), "checkpointing keeps layer inputs");
    long budget = 2L << 30;
    JobEstimate one = llama(dir, "lora-one", budget, true, "all-linear");
    assertEquals(budget + 4 * full / 16, one.bytes() - llama(dir, "lora", 0, true, "all-linear").bytes(),
        "the budget's sums and one layer's fp32 gradients");
    assertEquals(budget + budget / 2, llama(dir, "lora-one", budget, false, "all-linear").bytes()
        - lora.bytes(), "without checkpointing a group's gradients, at most half the budget");
    assertTrue(one.bytes() < 16L << 30, "fits a serve node at -Xmx8g: " + one.describe());
  }

  private static JobEstimate llama(Path dir, String init, long budget, boolean checkpointing, String targets) {
    Map<String, Object> keys = new HashMap<>(Map.of("model", dir.toString(), "export.onnx", false,
        "init.method", init, "train.max-length", 512, "train.micro-batch", 1, "lora.targets", targets,
        "train.activation-checkpointing", checkpointing));
    if (budget > 0) keys.put("init.memory-budget", budget);
    return of(keys);
  }
}
