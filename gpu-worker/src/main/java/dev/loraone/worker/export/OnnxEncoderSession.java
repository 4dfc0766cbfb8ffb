package dev.loraone.worker.export;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.weights.FloatTensor;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * ONNX Runtime inference on text over an encoder exported by {@link BertOnnxExporter} (or any
 * BERT-style ONNX file with the same input names): tokenises with the model's {@code
 * tokenizer.json}, runs, and returns the requested outputs as heap tensors.
 *
 * <pre>
 *   texts -> TextTokenizer -> input_ids, attention_mask, token_type_ids   int64 [B,L]
 *         -> OrtSession    -> sentence_embedding [B,H] | last_hidden_state [B,L,H] | logits [B,C]
 * </pre>
 *
 * <p>Row outputs ({@link #embed}, {@link #rows}) are computed in batches of {@link
 * #batchSize()} texts, so a long list needs memory for one batch only. The session reads the
 * model from its path, so external data beside it is found. Owns the ONNX Runtime session and the
 * tokenizer: close it. One session may serve several threads (ONNX Runtime's {@code Run} is
 * thread-safe, as is the tokenizer).
 */
public final class OnnxEncoderSession implements AutoCloseable {

  /** Texts per ONNX Runtime call in {@link #rows}. */
  public static final int DEFAULT_BATCH_SIZE = 32;

  private final OrtEnvironment env;
  private final OrtSession session;
  private final TextTokenizer tokenizer;
  private final int batchSize;
  private final Map<String, String> metadata;

  private OnnxEncoderSession(OrtEnvironment env, OrtSession session, TextTokenizer tokenizer, int batchSize)
      throws OrtException {
    this.env = env;
    this.session = session;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    this.metadata = Map.copyOf(session.getMetadata().getCustomMetadata());
    for (String input : List.of(BertOnnxGraph.INPUT_IDS, BertOnnxGraph.ATTENTION_MASK)) {
      if (!session.getInputNames().contains(input)) {
        throw new IllegalArgumentException("the ONNX model has no input '" + input + "'; inputs: "
            + session.getInputNames());
      }
    }
    String maxPositions = metadata.get("max_position_embeddings");
    if (maxPositions != null && tokenizer.maxLength() > Integer.parseInt(maxPositions)) {
      throw new IllegalArgumentException("tokenizer maxLength " + tokenizer.maxLength()
          + " exceeds the model's max_position_embeddings " + maxPositions);
    }
  }

  /**
   * Opens {@code onnxFile} with ONNX Runtime's default options (on CUDA when the build and a GPU allow,
   * {@link OrtProviders}) and the tokenizer of {@code
   * tokenizerJson} (a file, or a folder holding {@code tokenizer.json}).
   *
   * @param maxLength longest token sequence, special tokens included (longer texts are truncated)
   */
  public static OnnxEncoderSession open(Path onnxFile, Path tokenizerJson, int maxLength)
      throws IOException, OrtException {
    TextTokenizer tokenizer = TextTokenizer.fromPath(tokenizerJson, maxLength);
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      // no busy-waiting between ops: on 2 shared cores it cut batch-1 latency 163 -> 38 ms (loraone bench model)
      options.addConfigEntry("session.intra_op.allow_spinning", "0");
      OrtProviders.choose(options);
      return open(onnxFile, tokenizer, options, DEFAULT_BATCH_SIZE); // closes the tokenizer on failure
    }
  }

  /**
   * Opens {@code onnxFile} with {@code options} (threads, optimisation level; the caller still owns
   * and closes them). The session takes ownership of {@code tokenizer}, also on failure.
   */
  public static OnnxEncoderSession open(Path onnxFile, TextTokenizer tokenizer, OrtSession.SessionOptions options,
      int batchSize) throws OrtException {
    if (batchSize < 1) {
      tokenizer.close();
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession session = null;
    try {
      session = env.createSession(onnxFile.toAbsolutePath().toString(), options);
      return new OnnxEncoderSession(env, session, tokenizer, batchSize);
    } catch (OrtException | RuntimeException e) {
      tokenizer.close();
      if (session != null) {
        session.close();
      }
      throw e;
    }
  }

  /** Mean-pooled sentence embeddings, one row of H per text. */
  public float[][] embed(List<String> texts) throws OrtException {
    return rows(texts, BertOnnxGraph.SENTENCE_EMBEDDING);
  }

  /**
   * A per-text output of shape [B,k] (e.g. {@code logits}, {@code sentence_embedding}), one row per
   * text, computed batch by batch.
   */
  public float[][] rows(List<String> texts, String output) throws OrtException {
    float[][] out = new float[texts.size()][];
    for (int from = 0; from < texts.size(); from += batchSize) {
      List<String> chunk = texts.subList(from, Math.min(texts.size(), from + batchSize));
      FloatTensor t = run(tokenizer.encode(chunk), Set.of(output)).get(output);
      if (t.rank() != 2 || t.dim(0) != chunk.size()) {
        throw new IllegalStateException("output " + output + " is not [batch, k]: " + t);
      }
      int k = Math.toIntExact(t.dim(1));
      for (int r = 0; r < chunk.size(); r++) {
        float[] row = new float[k];
        System.arraycopy(t.data(), r * k, row, 0, k);
        out[from + r] = row;
      }
    }
    return out;
  }

  /** The texts' token batch and {@code last_hidden_state} [B,L,H] for it, in one call. */
  public HiddenStates lastHiddenState(List<String> texts) throws OrtException {
    TokenBatch batch = tokenizer.encode(texts);
    return new HiddenStates(
        batch,
        run(batch, Set.of(BertOnnxGraph.LAST_HIDDEN_STATE)).get(BertOnnxGraph.LAST_HIDDEN_STATE));
  }

  /** Hidden states with the batch that produced them (its mask says which positions are padding). */
  public record HiddenStates(TokenBatch batch, FloatTensor states) {}

  /**
   * Runs an already tokenised batch and returns the requested float outputs by name. Inputs that
   * the model does not declare (token_type_ids of some exports) are not fed.
   */
  public Map<String, FloatTensor> run(TokenBatch batch, Set<String> outputs) throws OrtException {
    if (batch.batchSize() == 0) {
      throw new IllegalArgumentException("empty batch");
    }
    long[] shape = {batch.batchSize(), batch.sequenceLength()};
    Map<String, long[]> feeds = new LinkedHashMap<>();
    feeds.put(BertOnnxGraph.INPUT_IDS, batch.inputIds());
    feeds.put(BertOnnxGraph.ATTENTION_MASK, batch.attentionMask());
    feeds.put(BertOnnxGraph.TOKEN_TYPE_IDS, batch.tokenTypeIds());
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      for (Map.Entry<String, long[]> e : feeds.entrySet()) {
        if (session.getInputNames().contains(e.getKey())) {
          inputs.put(e.getKey(), OnnxTensor.createTensor(env, LongBuffer.wrap(e.getValue()), shape));
        }
      }
      try (OrtSession.Result result = session.run(inputs, outputs)) {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (String name : outputs) {
          OnnxTensor t = (OnnxTensor) result.get(name).orElseThrow();
          FloatBuffer fb = t.getFloatBuffer();
          float[] data = new float[fb.remaining()];
          fb.get(data);
          out.put(name, new FloatTensor(t.getInfo().getShape(), data));
        }
        return out;
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  /** Output names with their declared shapes (-1 for a dynamic axis). */
  public Map<String, long[]> outputShapes() throws OrtException {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
      if (e.getValue().getInfo() instanceof TensorInfo t) {
        shapes.put(e.getKey(), t.getShape());
      }
    }
    return shapes;
  }

  /** The model's custom metadata ({@code metadata_props}). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The tokenizer (owned by this session). */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /** Texts per ONNX Runtime call in {@link #rows}. */
  public int batchSize() {
    return batchSize;
  }

  /** The underlying session, for callers that need ONNX Runtime's own API (input info, profiling). */
  OrtSession session() {
    return session;
  }

  @Override
  public void close() throws OrtException {
    try {
      session.close();
    } finally {
      tokenizer.close();
    }
  }
}
