package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LabelHead}: rows are scaled unit label embeddings, the head classifies zero-shot, bad inputs are named. */
class LabelHeadTest {
  @TempDir Path dir;

  private static Map<String, Object> job(String headInit) {
    Map<String, Object> m = new HashMap<>(WorkerEngineTest.tinyJob("lora"));
    m.put("head.init", headInit);
    m.put("train.steps", 1);
    m.put("eval.examples", 64);
    m.put("data.max-per-class", 8);
    m.put("train.max-length", 32);
    return m;
  }

  @Test
  void rowsAreUnitDirectionsTimesTemperatureOverTheMeanPooledNorm() {
    float[][] pooled = {{3, 4, 0}, {0, 0, 2}, {1, 0, 0}}; // norms 5, 2, 1: mean 8/3
    float[] w = LabelHead.weights(pooled, 20);
    double scale = 20 / (8.0 / 3);
    for (int c = 0; c < 3; c++) {
      double norm = 0;
      for (int j = 0; j < 3; j++) norm += (double) w[c * 3 + j] * w[c * 3 + j];
      assertEquals(scale, Math.sqrt(norm), 1e-5, "row " + c + ": T / mean norm (float rounding)");
    }
    assertArrayEquals(new float[] {(float) (scale * 0.6), (float) (scale * 0.8), 0},
        java.util.Arrays.copyOfRange(w, 0, 3), 1e-5f, "the direction of p_0");
  }

  @Test
  void wordNetClassesEmbedTheirLexnamesDescriptionsUnlessALabelsFileSaysOtherwise() throws IOException {
    TaskData wn = TaskData.load(TaskData.WORDNET, null, 1, 0, dev.loraone.data.OnBadRecord.FAIL);
    List<String> texts = LabelHead.texts("minilm", wn, null);
    assertEquals("nouns denoting animals", texts.get(wn.labels().id("noun.animal")));
    Path labels = dir.resolve("labels.tsv");
    Files.writeString(labels, "noun.Tops\tthe most general nouns\n");
    texts = LabelHead.texts("minilm", wn, labels);
    assertEquals("the most general nouns", texts.get(wn.labels().id("noun.Tops")));
    assertEquals("nouns denoting animals", texts.get(wn.labels().id("noun.animal")),
        "an undescribed class keeps its default");
  }

  @Test
  void aUserTasksClassesEmbedTheirLabelTextUnlessDescribed() throws IOException {
    Path data = dir.resolve("t.tsv");
    StringBuilder rows = new StringBuilder("text\tlabel\n");
    for (int i = 0; i < 20; i++) {
      rows.append("row ").append(i).append('\t').append(i % 2 == 0 ? "pos" : "neg").append('\n');
    }
    Files.writeString(data, rows);
    TaskData task = TaskData.load(data.toString(), null, 1, 0, dev.loraone.data.OnBadRecord.FAIL);
    Path labels = dir.resolve("labels.tsv");
    Files.writeString(labels, "pos\ta favourable review\n");
    assertEquals(List.of("neg", "a favourable review"), LabelHead.texts("minilm", task, labels));
    Files.writeString(labels, "pos\tgood\n# the next class is not the task's\npositive\tgood\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LabelHead.texts("minilm", task, labels));
    assertTrue(e.getMessage().startsWith(labels + ":3: unknown class \"positive\""), e.getMessage());
  }

  @Test
  void aFolderWithoutAPoolingConventionIsRefusedNamingTheMissingFile() throws IOException {
    Path model = Files.createDirectories(dir.resolve("plain-bert"));
    Files.writeString(model.resolve("config.json"), "{\"model_type\": \"bert\"}");
    Map<String, Object> m = job("labels");
    m.put("model", model.toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkerEngine.open(JobSpec.of(m)));
    assertTrue(e.getMessage().contains("'job.head.init' = labels")
        && e.getMessage().contains(model.resolve("1_Pooling").resolve("config.json").toString()), e.getMessage());
  }

  @Test
  void aLabelsFileWithoutALabelsHeadIsRefused() {
    Map<String, Object> m = job("random");
    m.put("task.labels", dir.resolve("labels.tsv").toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkerEngine.open(JobSpec.of(m)));
    assertTrue(e.getMessage().contains("'job.task.labels'") && e.getMessage().contains("'job.head.init' = random"),
        e.getMessage());
  }

  @Test
  void warmupHeadMeansFiftyHeadStepsUnlessToldAndNeedsSomeSteps() {
    Map<String, Object> m = job("warmup");
    assertEquals(FinetuneConfig.DEFAULT_WARMUP_STEPS, FinetuneConfig.fromJob(JobSpec.of(m)).headWarmup());
    m.put("head.warmup-steps", 7);
    assertEquals(7, FinetuneConfig.fromJob(JobSpec.of(m)).headWarmup());
    FinetuneConfig c = FinetuneConfig.fromJob(JobSpec.of(m));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.withHeadWarmup(0, Double.NaN));
    assertTrue(e.getMessage().contains("'job.head.warmup-steps' = 0"), e.getMessage());
  }

  /**
   * The engine opens with the labels head (bias 0, every row of norm T / m, the same bits on a
   * second open: what each worker of a cluster job computes), and the single-process run reports its
   * zero-shot accuracy at step 0, far above chance (1/26) on WordNet validation examples.
   */
  @Test
  void labelsHeadIsAZeroShotClassifierAtStepZeroAndEveryOpenHasItsBits() throws IOException {
    Map<String, Object> m = job("labels");
    TensorBlob weight;
    try (WorkerEngine a = WorkerEngine.open(JobSpec.of(m))) {
      Map<String, TensorBlob> head = a.layout().head();
      weight = head.get("classifier.weight");
      for (float b : head.get("classifier.bias").toFloats()) assertEquals(0f, b);
      float[] w = weight.toFloats();
      int h = (int) weight.shape()[1];
      double first = 0;
      for (int c = 0; c < weight.shape()[0]; c++) {
        double norm = 0;
        for (int j = 0; j < h; j++) norm += (double) w[c * h + j] * w[c * h + j];
        if (c == 0) first = Math.sqrt(norm);
        assertEquals(first, Math.sqrt(norm), 1e-4 * first, "every row has norm T / m");
      }
    }
    try (WorkerEngine reused = WorkerEngine.open(JobSpec.of(m))) {
      assertEquals(weight, reused.layout().head().get("classifier.weight"), "the kept pooled rows, reused");
    }
    LabelHead.forgetPooled();
    FinetuneConfig cfg = FinetuneConfig.fromJob(JobSpec.of(m));
    try (LocalRun run = LocalRun.open(cfg, "labels")) {
      assertEquals(weight, run.engine().layout().head().get("classifier.weight"),
          "an open that recomputes them gets the same bits");
      LocalRun.Result r = run.run(e -> {});
      JobEvent.Evaluated zero = r.evals().get(0);
      assertEquals(0, zero.step());
      double accuracy = zero.metrics().get("accuracy");
      assertTrue(accuracy > 4.0 / 26, "zero-shot accuracy " + accuracy + " vs chance 1/26");
    }
  }
}
