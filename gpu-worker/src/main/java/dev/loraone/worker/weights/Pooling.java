package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a BERT-family sentence-embedding model turns token states into one vector: the convention it
 * was trained with, which fine-tuning must keep for its embeddings to stay comparable.
 *
 * <pre>
 *   h: [B,L,H] last_hidden_state    mask: [B,L]
 *   MEAN   e = sum_l(h * mask) / max(sum_l(mask), 1e-9)     all-MiniLM-L6-v2 (sentence-transformers)
 *   CLS    e = h[:, 0, :]                                    bge-small-en-v1.5 (BAAI's recipe)
 * </pre>
 * Both models then L2-normalise {@code e}. A checkpoint folder says its pooling the
 * sentence-transformers way, in {@code 1_Pooling/config.json} ({@code pooling_mode_cls_token});
 * without that file it is MEAN.
 */
public enum Pooling {
  MEAN,
  CLS;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The pooling of a sentence-transformers folder: CLS when {@code 1_Pooling/config.json} says so, else MEAN. */
  public static Pooling ofFolder(Path dir) throws IOException {
    Path config = dir.resolve("1_Pooling").resolve("config.json");
    if (!Files.isRegularFile(config)) return MEAN;
    JsonNode c = JSON.readTree(config.toFile());
    return c != null && c.path("pooling_mode_cls_token").asBoolean(false) ? CLS : MEAN;
  }

  /** The name used in ONNX metadata and messages: {@code mean} or {@code cls}. */
  public String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
