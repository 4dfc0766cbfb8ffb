package dev.loraone.worker.export;

import static dev.loraone.worker.export.ExportFixtures.forward;
import static dev.loraone.worker.export.ExportFixtures.maxAbsDiff;
import static dev.loraone.worker.export.ExportFixtures.randomizeAdapters;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OrtSession;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.export.ExportFixtures.DjlOutputs;
import dev.loraone.worker.export.OnnxClassifier.Prediction;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.BertLoraModel.Head;
import dev.loraone.worker.model.LoraConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text in, classes out: the classifier over an export agrees with the DJL model it came from. */
class OnnxClassifierTest {

  private static final List<String> LABELS = List.of("negative", "neutral", "positive");
  private static final List<String> TEXTS = List.of(
      "I loved every minute of it.",
      "It was fine, I suppose.",
      "Terrible service and cold food; never again.",
      "Okay.",
      "The plot meanders but the acting carries the film to a satisfying end.");
  // Float32 round-off between DJL and ONNX Runtime kernels (a 2-layer model; MiniLM's bound is the same).
  private static final double ATOL = 1e-4;

  @TempDir static Path dir;
  private static NDManager manager;
  private static BertLoraModel model;
  private static Path tokenizerJson;
  private static Path onnx;

  @BeforeAll
  static void exportTinyClassifier() throws Exception {
    manager = NDManager.newBaseManager("PyTorch");
    model = BertLoraModel.create(BertOnnxExporterTest.TINY, LoraConfig.of(2, 4, false, 0, 3, "query,value"),
        new Head.Classification(LABELS.size()));
    model.initialize(manager);
    randomizeAdapters(model, 9, 0.3);
    onnx = new BertOnnxExporter().export(model, dir.resolve("classifier.onnx"), LABELS).model();
    tokenizerJson = ExportFixtures.writeMiniLmTokenizer(dir);
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  @Test
  void predictionsAreTheSoftmaxAndArgmaxOfTheDjlModelsLogits() throws Exception {
    try (OnnxClassifier classifier = OnnxClassifier.open(onnx, tokenizerJson, 64)) {
      assertEquals(LABELS, classifier.labels());
      assertEquals("loraone", classifier.session().session().getMetadata().getProducerName());
      List<Prediction> predictions = classifier.predict(TEXTS);
      TokenBatch batch = classifier.session().tokenizer().encode(TEXTS);
      DjlOutputs djl = forward(model, manager, batch);
      for (int i = 0; i < TEXTS.size(); i++) {
        Prediction p = predictions.get(i);
        float[] expected = Arrays.copyOfRange(djl.head(), i * 3, i * 3 + 3);
        assertTrue(maxAbsDiff(p.logits(), expected) <= ATOL, "logits of text " + i);
        double sum = 0;
        for (float q : p.probabilities()) {
          assertTrue(q >= 0 && q <= 1);
          sum += q;
        }
        assertEquals(1.0, sum, 1e-6);
        assertEquals(OnnxClassifier.argmax(p.logits()), p.label());
        assertEquals(LABELS.get(p.label()), p.labelName());
        assertEquals(p.confidence(), max(p.probabilities()));
      }
      assertEquals(predictions.stream().map(Prediction::labelName).toList(), classifier.classify(TEXTS));
    }
  }

  @Test
  void smallBatchesGiveTheSameRowsAsOneBatch() throws Exception {
    float[][] whole;
    try (OnnxClassifier classifier = OnnxClassifier.open(onnx, tokenizerJson, 64)) {
      whole = classifier.logits(TEXTS);
    }
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OnnxClassifier classifier = OnnxClassifier.of(OnnxEncoderSession.open(onnx,
            TextTokenizer.fromPath(tokenizerJson, 64), options, 2))) {
      float[][] chunked = classifier.logits(TEXTS);
      for (int i = 0; i < TEXTS.size(); i++) {
        // Padding to another length only adds exactly-zero attention terms; kernels may still round differently.
        assertTrue(maxAbsDiff(whole[i], chunked[i]) <= 1e-5, "text " + i);
      }
    }
  }

  @Test
  void modelWithoutLabelMetadataGetsHuggingFaceDefaultNames() throws Exception {
    Path plain = new BertOnnxExporter().export(model, dir.resolve("unlabelled.onnx")).model();
    try (OnnxClassifier classifier = OnnxClassifier.open(plain, tokenizerJson, 64)) {
      assertEquals(List.of("LABEL_0", "LABEL_1", "LABEL_2"), classifier.labels());
    }
  }

  @Test
  void embeddingModelServesEmbeddingsButNoClassifier() throws Exception {
    BertLoraModel encoder = BertLoraModel.create(BertOnnxExporterTest.TINY,
        LoraConfig.of(2, 4, false, 0, 4, LoraConfig.ALL_LINEAR), new Head.Embedding());
    encoder.initialize(manager);
    randomizeAdapters(encoder, 10, 0.3);
    Path file = new BertOnnxExporter().export(encoder, dir.resolve("encoder.onnx")).model();
    try (OnnxEncoderSession session = OnnxEncoderSession.open(file, tokenizerJson, 64)) {
      float[][] embeddings = session.embed(TEXTS);
      DjlOutputs djl = forward(encoder, manager, session.tokenizer().encode(TEXTS));
      int h = BertOnnxExporterTest.TINY.hiddenSize();
      for (int i = 0; i < TEXTS.size(); i++) {
        assertTrue(maxAbsDiff(embeddings[i], Arrays.copyOfRange(djl.head(), i * h, (i + 1) * h)) <= ATOL);
      }
      assertEquals("embedding", session.metadata().get("head"));
    }
    OnnxEncoderSession session = OnnxEncoderSession.open(file, tokenizerJson, 64);
    assertThrows(IllegalArgumentException.class, () -> OnnxClassifier.of(session)); // and closes it
  }

  @Test
  void tokenizerLongerThanThePositionTableIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> OnnxEncoderSession.open(onnx, tokenizerJson, 128));
  }

  @Test
  void softmaxIsStableForLargeLogits() {
    assertArrayEquals(new float[] {0.5f, 0.5f, 0f}, OnnxClassifier.softmax(new float[] {1000f, 1000f, -1000f}));
    assertEquals(0, OnnxClassifier.argmax(new float[] {3f, 3f, 1f}));
  }

  private static float max(float[] values) {
    float m = Float.NEGATIVE_INFINITY;
    for (float v : values) {
      m = Math.max(m, v);
    }
    return m;
  }
}
