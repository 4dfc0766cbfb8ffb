package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.PoolingMode;
import dev.loraone.data.TextTokenizer;
import dev.loraone.worker.export.OnnxEncoderSession;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.Pooling;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The embedding export is a sentence-embedding model langchain4j loads as it is: {@code model.onnx}
 * (output 0 {@code last_hidden_state}, which {@code OnnxEmbeddingModel} pools and normalises itself)
 * and {@code tokenizer.json}. Its embeddings agree with the DJL model's (adapters unmerged there,
 * merged in the export) within 1e-4 cosine distance, for MiniLM (mean pooling) and BGE (CLS).
 */
class EmbeddingExportTest {
  private static final List<String> TEXTS = List.of("a financial institution that accepts deposits",
      "bank, depository financial institution: he cashed a check at the bank", "to move fast on foot",
      "the act of running a race; \"the marathon was long\"");
  private static final double MAX_COSINE_DISTANCE = 1e-4; // the bar: float32 ORT vs float32 PyTorch

  @TempDir Path dir;

  private static float[] randoms(int n, long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    return f;
  }

  static double cosineDistance(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int k = 0; k < a.length; k++) {
      dot += (double) a[k] * b[k];
      na += (double) a[k] * a[k];
      nb += (double) b[k] * b[k];
    }
    return 1 - dot / Math.sqrt(na * nb);
  }

  @ParameterizedTest
  @ValueSource(strings = {"minilm", "bge-small"})
  void langchain4jLoadsTheExportAndMatchesTheDjlModel(String name) throws Exception {
    BertSource source = BertSource.resolve(name);
    Pooling pooling = BertSource.known(name).pooling();
    BertLoraModel model = BertLoraModel.fromPretrained(source.config(),
        LoraConfig.of(4, 8, false, 0.0, 1, "query,value"), new BertLoraModel.Head.Embedding(pooling), source.weights());
    Path out = dir.resolve(name);
    try (EmbeddingStepper stepper = new EmbeddingStepper(model);
        InputStream json = source.openTokenizer();
        TextTokenizer tok = TextTokenizer.fromJson(json, 128)) {
      float[][] base = stepper.embed(tok.encode(TEXTS));
      int k = 0;
      for (String m : model.adaptedModules()) { // adapters that move the embeddings, so the merge is what is tested
        model.setLoraA(m, randoms(model.getLoraA(m).length, ++k, 0.1));
        model.setLoraB(m, randoms(model.getLoraB(m).length, ++k, 0.1));
      }
      Artifacts.writeOnnx(model, List.of(), source, out);
      OnnxEmbeddingModel lc4j = new OnnxEmbeddingModel(out.resolve(Artifacts.ONNX_FILE),
          out.resolve(Artifacts.TOKENIZER_FILE), pooling == Pooling.CLS ? PoolingMode.CLS : PoolingMode.MEAN);
      double worst = 0;
      double moved = 0;
      for (int i = 0; i < TEXTS.size(); i++) {
        float[] djl = stepper.embed(tok.encode(List.of(TEXTS.get(i))))[0];
        float[] theirs = lc4j.embed(TEXTS.get(i)).content().vector();
        assertEquals(djl.length, theirs.length);
        worst = Math.max(worst, cosineDistance(djl, theirs));
        moved = Math.max(moved, cosineDistance(djl, base[i]));
      }
      System.out.printf("EmbeddingExportTest %s (%s pooling): langchain4j vs DJL max cosine distance %.2e;"
          + " adapters moved embeddings by up to %.2e%n", name, pooling.id(), worst, moved);
      assertTrue(worst <= MAX_COSINE_DISTANCE, "cosine distance " + worst);
      assertTrue(moved > 1e-3, "the adapters change the embeddings: " + moved);
      try (OnnxEncoderSession s = OnnxEncoderSession.open(out.resolve(Artifacts.ONNX_FILE),
          out.resolve(Artifacts.TOKENIZER_FILE), 128)) {
        assertEquals(pooling.id(), s.metadata().get("pooling"));
        assertEquals("embedding", s.metadata().get("head"));
        float[] pooled = s.embed(List.of(TEXTS.get(0)))[0];
        assertTrue(cosineDistance(pooled, lc4j.embed(TEXTS.get(0)).content().vector()) <= MAX_COSINE_DISTANCE,
            "sentence_embedding is the same pooling as langchain4j's");
      }
    }
  }
}
