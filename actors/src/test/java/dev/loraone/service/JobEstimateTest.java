package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import java.util.Map;
import org.junit.jupiter.api.Test;

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
    assertEquals(1000 + 4L * 6 * 384 * 384, bounded, "init.memory-budget bounds the float64 sums");
    assertTrue(base.describe().contains("weights 87 MiB"), base::describe);
  }
}
