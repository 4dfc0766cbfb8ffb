package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.data.OnBadRecord;
import dev.loraone.protocol.job.JobSpec;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link FinetuneConfig#fromJob}: every job key lands in its field, and the defaults of an empty job. */
class FinetuneConfigTest {
  @Test
  void fromJobMapsEveryKey() {
    Map<String, Object> m = new HashMap<>();
    m.put("model", "bge-small");
    m.put("task", "/data/t.jsonl");
    m.put("eval-file", "/data/e.jsonl");
    m.put("seed", 9);
    m.put("lora.rank", 6);
    m.put("lora.alpha", 12.0);
    m.put("lora.rslora", false);
    m.put("lora.targets", "query");
    m.put("lora.dropout", 0.0);
    m.put("init.method", "gaussian");
    m.put("init.batch", 5);
    m.put("init.iters", 6);
    m.put("init.shards", 3);
    m.put("init.mode", "exact");
    m.put("init.q-factor", 3);
    m.put("init.niter", 1);
    m.put("init.gamma", 64.0);
    m.put("optimizer.name", "scaled-gd");
    m.put("optimizer.lr", 0.01);
    m.put("optimizer.lora-plus-ratio", 4.0);
    m.put("optimizer.weight-decay", 0.1);
    m.put("optimizer.lambda", 1e-4);
    m.put("optimizer.schedule", "cosine");
    m.put("optimizer.warmup", 3);
    m.put("optimizer.max-grad-norm", 2.0);
    m.put("train.steps", 7);
    m.put("train.batch", 12);
    m.put("train.micro-batch", 4);
    m.put("train.max-length", 48);
    m.put("eval.every", 2);
    m.put("eval.examples", 64);
    m.put("data.max-per-class", 9);
    m.put("data.on-bad-record", "skip");
    FinetuneConfig c = FinetuneConfig.fromJob(JobSpec.of(m));
    assertEquals(
        new FinetuneConfig(
            "bge-small",
            "/data/t.jsonl",
            Path.of("/data/e.jsonl"),
            "gaussian",
            "scaled-gd",
            6,
            12.0,
            false,
            "query",
            0.0,
            0.01,
            4.0,
            0.1,
            1e-4,
            "cosine",
            3,
            2.0,
            7,
            12,
            4,
            5,
            6,
            64.0,
            48,
            9,
            64,
            2,
            9,
            OnBadRecord.SKIP,
            3,
            "exact",
            3,
            1),
        c);
    FinetuneConfig d = FinetuneConfig.fromJob(JobSpec.of(Map.of("seed", 0)));
    assertTrue(Double.isNaN(d.gamma()), "init.gamma = 0 means the method's default");
    assertNull(d.evalFile());
    assertEquals(OnBadRecord.FAIL, d.onBadRecord());
    assertFalse(d.activationCheckpointing());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FinetuneConfig.fromJob(JobSpec.of(Map.of("train.activation-checkpointing", true))));
    assertTrue(e.getMessage().contains("'job.train.activation-checkpointing' = true"), e.getMessage());
  }
}
