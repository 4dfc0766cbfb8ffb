package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.coordinator.JobEvent;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.Finetuner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract (DESIGN.md section 4) on real MiniLM and real WordNet data: the final
 * adapter file has the same SHA-256 whether the job ran in one process ({@code loraone finetune})
 * or as a coordinator with 1 or 3 worker actors.
 */
class PipelineDeterminismIT {
  @TempDir static Path dir;
  static JobSpec spec;
  static String reference;

  @BeforeAll
  static void singleProcessReference() throws Exception {
    spec = JobSpec.of(Map.ofEntries(
        Map.entry("name", "determinism"), Map.entry("seed", 3), Map.entry("lora.rank", 4), Map.entry("lora.targets", "query,value"),
        Map.entry("lora.dropout", 0.0), Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4), Map.entry("init.iters", 4),
        Map.entry("init.shards", 2), Map.entry("optimizer.name", "scaled-adamw"), Map.entry("optimizer.lr", 1e-3),
        Map.entry("optimizer.warmup", 1), Map.entry("train.steps", 3), Map.entry("train.batch", 8), Map.entry("train.micro-batch", 4),
        Map.entry("train.max-length", 32), Map.entry("eval.every", 2), Map.entry("eval.examples", 40), Map.entry("data.max-per-class", 3)));
    try (Finetuner f = new Finetuner(FinetuneConfig.fromJob(spec), null)) {
      PeftAdapter adapter = f.run().adapter();
      Path out = dir.resolve("finetune");
      adapter.write(out);
      reference = sha256(out.resolve(PeftAdapter.WEIGHTS_FILE));
    }
  }

  private static JobEvent.Finished pipeline(int workers) {
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec, workers, LocalWorkers.factory(), dir.resolve("workers-" + workers), events::add,
        Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
    return (JobEvent.Finished) end;
  }

  @Test
  void finalAdapterIsIdenticalToTheSingleProcessReferenceOnOneWorker() {
    assertEquals(reference, pipeline(1).adapterSha256());
  }

  @Test
  void finalAdapterIsIdenticalOnOneAndThreeWorkers() {
    JobEvent.Finished three = pipeline(3);
    assertEquals(reference, three.adapterSha256());
    assertTrue(Files.isRegularFile(three.adapterDir().resolve(PeftAdapter.CONFIG_FILE)));
  }

  static String sha256(Path f) throws IOException {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
