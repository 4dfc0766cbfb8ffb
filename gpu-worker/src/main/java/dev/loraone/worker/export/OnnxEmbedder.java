package dev.loraone.worker.export;

import ai.onnxruntime.OrtException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Sentence embeddings and retrieval with an exported model's {@code sentence_embedding} output: the
 * inference side of an embedding job, as {@link OnnxClassifier} is of a classification job.
 *
 * <pre>
 *   e     = sentence_embedding / max(||sentence_embedding||_2, 1e-12)    [H] per text (pooling: the model's)
 *   score = e_query . e_text                                              cosine similarity, in double
 * </pre>
 * The export pools as its model was trained (mean or CLS, metadata {@code pooling}); normalising here
 * gives the vectors the embedding task compared. Owns its {@link OnnxEncoderSession}: close it.
 */
public final class OnnxEmbedder implements AutoCloseable {

  /** A text's place in a ranking: its index among the texts given and its cosine similarity to the query. */
  public record Hit(int index, double score) {}

  private final OnnxEncoderSession session;

  private OnnxEmbedder(OnnxEncoderSession session) {
    this.session = session;
  }

  /** Opens a model and its tokenizer; see {@link OnnxEncoderSession#open(Path, Path, int)}. */
  public static OnnxEmbedder open(Path onnxFile, Path tokenizerJson, int maxLength) throws IOException, OrtException {
    OnnxEncoderSession session = OnnxEncoderSession.open(onnxFile, tokenizerJson, maxLength);
    try {
      if (!session.outputShapes().containsKey(BertOnnxGraph.SENTENCE_EMBEDDING)) {
        throw new IllegalArgumentException("the ONNX model has no output '" + BertOnnxGraph.SENTENCE_EMBEDDING
            + "'; outputs: " + session.outputShapes().keySet());
      }
      return new OnnxEmbedder(session);
    } catch (OrtException | RuntimeException e) {
      session.close();
      throw e;
    }
  }

  /** Unit embeddings, one row of H per text. */
  public float[][] embed(List<String> texts) throws OrtException {
    float[][] rows = session.rows(texts, BertOnnxGraph.SENTENCE_EMBEDDING);
    for (float[] row : rows) {
      double norm = 0;
      for (float v : row) norm += (double) v * v;
      float inv = (float) (1 / Math.max(Math.sqrt(norm), 1e-12));
      for (int k = 0; k < row.length; k++) row[k] *= inv;
    }
    return rows;
  }

  /** The texts by cosine similarity to {@code query}, most similar first (ties: the earlier text first). */
  public List<Hit> rank(String query, List<String> texts) throws OrtException {
    List<String> all = new ArrayList<>(texts.size() + 1);
    all.add(query);
    all.addAll(texts);
    float[][] e = embed(all);
    List<Hit> hits = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      double dot = 0;
      for (int k = 0; k < e[0].length; k++) dot += (double) e[0][k] * e[i + 1][k];
      hits.add(new Hit(i, dot));
    }
    hits.sort(Comparator.comparingDouble(Hit::score).reversed().thenComparingInt(Hit::index));
    return hits;
  }

  /** The model's pooling as its metadata says ({@code mean} | {@code cls}), or {@code mean} for older exports. */
  public String pooling() {
    return session.metadata().getOrDefault("pooling", "mean");
  }

  /** The session underneath (its tokenizer, metadata, other outputs). */
  public OnnxEncoderSession session() {
    return session;
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
