package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.BadRecordException;
import dev.loraone.data.Example;
import dev.loraone.data.Split;
import dev.loraone.data.WordNetGlossRetrieval;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedding task through the one engine on real MiniLM: a small user JSONL of WordNet
 * definition/words pairs (every fourth with a hard negative), rank 2 on query and value. Evaluation
 * sums do not depend on the order of the batches nor on the engine (the corpus embeddings are
 * cached per adapter values), units encoded on another thread compute the same bits, and a local
 * run reports zero-shot and final retrieval metrics and writes a FEATURE_EXTRACTION adapter.
 */
class EmbeddingWorkloadTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private static WorkerEngine engine;

  /** {@code n} pairs spread over the WordNet validation split, starting at pair {@code first}, as a user file. */
  static Path writePairs(Path file, int n, int first) throws IOException {
    List<Example.Pair> pairs = WordNetGlossRetrieval.load().examples(Split.VALIDATION);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int at = first + i * 97;
      Map<String, String> row = new LinkedHashMap<>();
      row.put("query", pairs.get(at).query());
      row.put("positive", pairs.get(at).positive());
      if (i % 4 == 1) row.put("negative", pairs.get(at + 1).positive());
      lines.add(JSON.writeValueAsString(row));
    }
    return Files.write(file, lines);
  }

  static Map<String, Object> job(Path dir) {
    Map<String, Object> m = new HashMap<>();
    m.put("model", "minilm");
    m.put("task.type", "embedding");
    m.put("task", dir.resolve("train.jsonl").toString());
    m.put("task.eval", dir.resolve("eval.jsonl").toString());
    m.put("lora.rank", 2);
    m.put("lora.targets", "query,value");
    m.put("init.method", "lora-one");
    m.put("init.batch", 4);
    m.put("init.iters", 2);
    m.put("init.shards", 2);
    m.put("optimizer.lr", 2e-3);
    m.put("train.steps", 3);
    m.put("train.batch", 8);
    m.put("train.micro-batch", 4);
    m.put("train.max-length", 24);
    m.put("eval.every", 0);
    m.put("eval.examples", 40);
    m.put("seed", 3);
    return m;
  }

  @BeforeAll
  static void open() throws IOException {
    writePairs(dir.resolve("train.jsonl"), 80, 0);
    writePairs(dir.resolve("eval.jsonl"), 40, 50);
    engine = WorkerEngine.open(JobSpec.of(job(dir)));
  }

  @AfterAll
  static void close() {
    if (engine != null) engine.close();
  }

  @Test
  void layoutSaysEmbeddingWithNoHeadAndNoLabels() {
    assertEquals(TaskMetrics.EMBEDDING, engine.layout().taskType());
    assertTrue(engine.layout().head().isEmpty());
    assertTrue(engine.labels().isEmpty());
    assertEquals("sentence-transformers/all-MiniLM-L6-v2", engine.layout().modelId());
    assertEquals(2, engine.evalBatches(), "40 eval pairs: a full and a partial batch of 32");
  }

  @Test
  void evaluationSumsDoNotDependOnBatchOrderOrEngineAndFollowTheAdapters() throws IOException {
    Workload.EvalUnit first = engine.evaluate(1);
    Workload.EvalUnit zero = engine.evaluate(0);
    try (WorkerEngine other = WorkerEngine.open(JobSpec.of(job(dir)))) {
      assertEquals(zero, other.evaluate(0), "batch 0 first on another engine: the same corpus embeddings");
      assertEquals(first, other.evaluate(1));
      Map<String, TensorBlob> moved = new LinkedHashMap<>();
      other.layout().modules().forEach(mod -> {
        moved.put(mod.name() + ".lora_A", TensorBlob.ofFloats(new long[] {2, mod.in()}, fill(2 * mod.in(), 0.05f)));
        moved.put(mod.name() + ".lora_B", TensorBlob.ofFloats(new long[] {mod.out(), 2}, fill(2 * mod.out(), 0.05f)));
      });
      other.setAdapters(1, moved);
      Workload.EvalUnit after = other.evaluate(0);
      assertNotEquals(zero.lossSum(), after.lossSum(), "new adapters: the corpus is embedded again");
      engine.setAdapters(1, moved);
      assertEquals(after, engine.evaluate(0));
    }
    Workload.EvalUnit e = zero;
    assertEquals(32, e.examples());
    assertEquals(List.of("mrr@10", "ndcg@10", "recall@1", "recall@10"), List.copyOf(e.sums().keySet()));
    assertTrue(e.sums().get("recall@1") <= e.sums().get("recall@10"));
  }

  private static float[] fill(int n, float v) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (i % 3 - 1) * v;
    return f;
  }

  @Test
  void unitsEncodedOnAnotherThreadComputeTheSameBits() throws Exception {
    ExecutorService encoder = Executors.newSingleThreadExecutor();
    try {
      Future<Encoded> train = encoder.submit(() -> engine.encodeGradients(5));
      Future<Encoded> eval = encoder.submit(() -> engine.encodeEvaluation(1));
      WorkerEngine.Gradients ahead = engine.gradients(5, train.get());
      WorkerEngine.Gradients inline = engine.gradients(5);
      assertEquals(inline.grads(), ahead.grads());
      assertEquals(inline.lossSum(), ahead.lossSum());
      assertEquals(1.0, inline.weight(), "one micro-batch weighs 1");
      assertEquals(engine.evaluate(1), engine.evaluate(1, eval.get()));
    } finally {
      encoder.shutdownNow();
    }
  }

  @Test
  void localRunReportsZeroShotAndFinalRetrievalAndWritesAFeatureExtractionAdapter() throws IOException {
    List<JobEvent> events = new ArrayList<>();
    LocalRun.Result r;
    try (LocalRun run = LocalRun.open(FinetuneConfig.fromJob(JobSpec.of(job(dir))), "emb")) {
      r = run.run(events::add);
    }
    assertEquals(List.of(0, 3), r.evals().stream().map(JobEvent.Evaluated::step).toList(), "zero-shot and final");
    for (JobEvent.Evaluated e : r.evals()) {
      assertEquals(TaskMetrics.RETRIEVAL, List.copyOf(e.metrics().keySet()));
      assertEquals(40, e.examples());
    }
    assertEquals("FEATURE_EXTRACTION", r.adapter().config().taskType());
    assertTrue(r.adapter().savedModules().isEmpty(), "an embedding model saves no head");
    r.adapter().write(dir.resolve("adapter"));
    assertTrue(PeftAdapter.read(dir.resolve("adapter")).modules().containsKey("encoder.layer.0.attention.self.query"));
  }

  @Test
  void aBadRowFailsTheJobNamingFileAndLine() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad.jsonl"),
        "{\"query\":\"q\",\"positive\":\"p\"}\n{\"query\":\"q2\"}\n");
    Map<String, Object> badJob = job(dir);
    badJob.put("task", bad.toString());
    BadRecordException e = assertThrows(BadRecordException.class, () -> WorkerEngine.open(JobSpec.of(badJob)));
    assertTrue(e.getMessage().startsWith(bad + ":2: missing key \"positive\""), e.getMessage());
    IllegalArgumentException type = assertThrows(IllegalArgumentException.class, () -> FinetuneConfig.fromJob(
        JobSpec.of(Map.of("model", "minilm", "task.type", "causal-lm"))));
    assertTrue(type.getMessage().contains("trains classification or embedding"), type.getMessage());
  }
}
