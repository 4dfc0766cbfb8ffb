package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.cli.Main;
import dev.loraone.data.Example;
import dev.loraone.data.Split;
import dev.loraone.data.WordNetGlossRetrieval;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract for embedding jobs: a small user JSONL of {@code {query, positive[,
 * negative]}} pairs on MiniLM gives one adapter SHA-256 in one process ({@code loraone finetune}:
 * {@link LocalJob}) and as a coordinator with 1 or 3 worker actors, with the same final retrieval
 * metrics: a step's micro-batches are the in-batch pools wherever they run, and each worker embeds
 * the evaluation corpus in the same chunks. The exported model then ranks with {@code loraone embed}.
 */
class EmbeddingDeterminismIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private static JobEvent.Finished reference;
  private static final List<JobEvent> referenceEvents = new ArrayList<>();

  /** 400 WordNet definition/words pairs as a user file, every third with a hard negative. */
  @BeforeAll
  static void writeTask() throws IOException {
    List<Example.Pair> pairs = WordNetGlossRetrieval.load().examples(Split.TEST);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      Example.Pair p = pairs.get(i * 29);
      Map<String, String> row = new LinkedHashMap<>();
      row.put("query", p.query());
      row.put("positive", p.positive());
      if (i % 3 == 0) row.put("negative", pairs.get(i * 29 + 1).positive());
      lines.add(JSON.writeValueAsString(row));
    }
    Files.write(dir.resolve("pairs.jsonl"), lines);
  }

  static JobSpec spec() {
    return JobSpec.of(Map.ofEntries(Map.entry("name", "embedding"), Map.entry("seed", 4), Map.entry("model", "minilm"),
        Map.entry("task.type", "embedding"), Map.entry("task", dir.resolve("pairs.jsonl").toString()),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "query,value"),
        Map.entry("lora.dropout", 0.1), Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4),
        Map.entry("init.iters", 4), Map.entry("init.shards", 2), Map.entry("optimizer.name", "adamw"),
        Map.entry("optimizer.lr", 2e-3), Map.entry("optimizer.warmup", 1), Map.entry("train.steps", 4),
        Map.entry("train.batch", 12), Map.entry("train.micro-batch", 4), Map.entry("train.max-length", 32),
        Map.entry("eval.every", 2), Map.entry("eval.examples", 64), Map.entry("checkpoint.every", 2)));
  }

  /** The single-process run ({@code loraone finetune}), with its ONNX export. */
  static synchronized JobEvent.Finished reference() {
    if (reference == null) {
      JobEvent end = LocalJob.run(spec(), dir.resolve("finetune"), referenceEvents::add).end();
      reference = assertInstanceOf(JobEvent.Finished.class, end, () -> "local run ended with " + end);
    }
    return reference;
  }

  private static JobEvent.Finished pipeline(int workers, List<JobEvent> events) {
    JobEvent end = EmbeddedJob.run(spec(), workers, LocalWorkers.factory(), dir.resolve("workers-" + workers),
        events::add, Duration.ofMinutes(10));
    return assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
  }

  @Test
  void embeddingAdapterAndRetrievalMetricsAreIdenticalInOneProcessAndOnOneAndThreeWorkers() throws IOException {
    JobEvent.Finished local = reference();
    JobEvent.Finished one = pipeline(1, new ArrayList<>());
    List<JobEvent> threeEvents = new ArrayList<>();
    JobEvent.Finished three = pipeline(3, threeEvents);
    assertEquals(local.adapterSha256(), one.adapterSha256(), "1 worker");
    assertEquals(local.adapterSha256(), three.adapterSha256(), "3 workers");
    assertEquals(local.finalEval().metrics(), three.finalEval().metrics(), "the same corpus embeddings everywhere");
    assertEquals(local.finalEval().loss(), three.finalEval().loss());
    assertEquals(TaskMetrics.RETRIEVAL, List.copyOf(three.finalEval().metrics().keySet()));
    JobEvent.Evaluated zeroShot = stepZero(referenceEvents);
    JobEvent.Evaluated zeroShotThree = stepZero(threeEvents);
    assertEquals(zeroShot.metrics(), zeroShotThree.metrics(), "the zero-shot (step 0) evaluation on 3 workers");
    assertEquals(zeroShot.loss(), zeroShotThree.loss());
    assertEquals(zeroShot.examples(), zeroShotThree.examples());
    assertTrue(zeroShot.loss() != three.finalEval().loss(),
        () -> "step 0 evaluates the model before training: " + zeroShot + " vs " + three.finalEval());
    int held = three.finalEval().examples();
    assertTrue(held > 32 && held < 64, held + ": a stable tenth of 400 pairs, two evaluation batches over workers");
    PeftAdapter adapter = PeftAdapter.read(three.adapterDir());
    assertEquals("FEATURE_EXTRACTION", adapter.config().taskType());
    assertEquals("sentence-transformers/all-MiniLM-L6-v2", adapter.config().baseModel());
    assertTrue(adapter.savedModules().isEmpty(), "an embedding model saves no head");
    assertTrue(local.exported().containsKey("model.onnx") && local.exported().containsKey("tokenizer.json"),
        local.exported()::toString);
  }

  /** The one evaluation at step 0 among {@code events}, reported before the init (no step or phase before it). */
  private static JobEvent.Evaluated stepZero(List<JobEvent> events) {
    List<JobEvent.Evaluated> zero = events.stream().filter(e -> e instanceof JobEvent.Evaluated v && v.step() == 0)
        .map(JobEvent.Evaluated.class::cast).toList();
    assertEquals(1, zero.size(), () -> "one step-0 evaluation in " + events);
    int at = events.indexOf(zero.get(0));
    assertTrue(events.subList(0, at).stream().noneMatch(e -> e instanceof JobEvent.StepDone
        || e instanceof JobEvent.PhaseChanged p && p.phase() == dev.loraone.protocol.job.Phase.SVD_INIT),
        () -> "step 0 is evaluated before the init: " + events);
    return zero.get(0);
  }

  /** Runs the {@code loraone} command line in this JVM and returns its standard output. */
  private static String loraone(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      assertEquals(0, Main.newCommandLine().execute(args), () -> String.join(" ", args) + ": " + out);
    } finally {
      System.setOut(stdout);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theExportedModelRanksWithTheEmbedCommandAndExportRebuildsItFromTheAdapter() {
    Path model = reference().adapterDir().resolveSibling("model");
    String[] rank = {"--query", "a domesticated carnivorous mammal that barks", "tax, taxation: the tax was raised",
        "dog, domestic dog, Canis familiaris: the dog barked all night", "run: he ran home"};
    String ranked = loraone(concat(new String[] {"embed", "--model-dir", model.toString()}, rank));
    String[] lines = ranked.strip().split("\n");
    assertEquals(3, lines.length, ranked);
    assertTrue(lines[0].endsWith("dog, domestic dog, Canis familiaris: the dog barked all night"), lines[0]);
    Path rebuilt = dir.resolve("exported");
    loraone("export", "--model", "minilm", "--adapter", reference().adapterDir().toString(), "--out",
        rebuilt.toString());
    assertEquals(ranked, loraone(concat(new String[] {"embed", "--model-dir", rebuilt.toString()}, rank)),
        "loraone export of the FEATURE_EXTRACTION adapter gives the job's embedding model");
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
