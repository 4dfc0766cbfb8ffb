package dev.loraone.worker.export;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Greedy decoding of an exported causal LM ({@link LlamaOnnxExporter}) in ONNX Runtime with its KV
 * cache: the prompt is fed once with empty past tensors, then one token per call, each call taking
 * the previous call's {@code present.*} outputs as its {@code past_key_values.*} inputs (native
 * tensors handed over as they are, never copied to the heap).
 *
 * <pre>
 *   call 0   input_ids = prompt [1,P]   position_ids = 0..P-1     attention_mask = 1 [1,P]     past [1,kv,0,d]
 *   call k   input_ids = token  [1,1]   position_ids = P+k-1      attention_mask = 1 [1,P+k]   past = present of k-1
 *   token    = argmax(logits[0, last, :])   ties to the lowest id, as torch.argmax (DJL's generate)
 * </pre>
 *
 * Works with any file of that layout (kv heads and head size are read from the session's past
 * inputs). Owns the session: close it. Each {@link #generate} keeps its cache to itself, so one
 * instance may serve several threads.
 */
public final class OnnxCausalLm implements AutoCloseable {

  /** New tokens and, when asked for, the logits row {@code [V]} each was chosen from. */
  public record Decoded(int[] tokens, float[][] logits) {}

  private final OrtEnvironment env;
  private final OrtSession session;
  private final LlamaConfig config;
  private final int layers;
  private final long kvHeads;
  private final long headDim;

  private OnnxCausalLm(OrtEnvironment env, OrtSession session, LlamaConfig config) throws OrtException {
    this.env = env;
    this.session = session;
    this.config = config;
    for (String input : List.of(LlamaOnnxGraph.INPUT_IDS, LlamaOnnxGraph.ATTENTION_MASK, LlamaOnnxGraph.POSITION_IDS,
        LlamaOnnxGraph.past(0, true))) {
      if (!session.getInputNames().contains(input)) {
        throw new IllegalArgumentException("the ONNX model has no input '" + input + "' (a causal LM exported with"
            + " its KV cache has input_ids, attention_mask, position_ids, past_key_values.{i}.key/value); inputs: "
            + session.getInputNames());
      }
    }
    int n = 0;
    while (session.getInputNames().contains(LlamaOnnxGraph.past(n, true))) {
      n++;
    }
    layers = n;
    NodeInfo info = session.getInputInfo().get(LlamaOnnxGraph.past(0, true));
    long[] shape = ((TensorInfo) info.getInfo()).getShape(); // [batch, kv, past, d]: kv and d fixed
    kvHeads = shape[1];
    headDim = shape[3];
    if (kvHeads < 1 || headDim < 1) {
      throw new IllegalArgumentException("past_key_values.0.key must have fixed kv-head and head-size dims, got "
          + Arrays.toString(shape));
    }
  }

  /**
   * Opens {@code dir/model.onnx} with {@code dir/config.json} (EOS, BOS, vocabulary and the longest
   * sequence), on CUDA when the build and a GPU allow ({@link OrtProviders}).
   *
   * @param threads ONNX Runtime intra-op threads; 0 for its default
   */
  public static OnnxCausalLm open(Path dir, int threads) throws IOException, OrtException {
    Path onnx = dir.resolve("model.onnx");
    Path config = dir.resolve("config.json");
    for (Path f : List.of(onnx, config)) {
      if (!Files.isRegularFile(f)) {
        throw new IllegalArgumentException(dir + ": no " + f.getFileName()
            + " (expected the folder loraone export writes: model.onnx, config.json, tokenizer.json)");
      }
    }
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      // no busy-waiting between ops: a decode step is many small ops on shared cores (see OnnxEncoderSession)
      options.addConfigEntry("session.intra_op.allow_spinning", "0");
      if (threads > 0) {
        options.setIntraOpNumThreads(threads);
      }
      OrtProviders.choose(options);
      return open(onnx, LlamaConfig.fromJson(config), options);
    }
  }

  /** Opens {@code onnxFile} with {@code options} (the caller still owns and closes them). */
  public static OnnxCausalLm open(Path onnxFile, LlamaConfig config, OrtSession.SessionOptions options)
      throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession session = env.createSession(onnxFile.toAbsolutePath().toString(), options);
    try {
      return new OnnxCausalLm(env, session, config);
    } catch (OrtException | RuntimeException e) {
      session.close();
      throw e;
    }
  }

  public LlamaConfig config() {
    return config;
  }

  /**
   * Greedy decoding with the cache; stops after emitting any of {@code eosIds} (included in the
   * result) or after {@code maxNewTokens}.
   *
   * @param keepLogits whether to return the logits row of every chosen token (tests compare them)
   */
  public Decoded generate(int[] promptIds, int maxNewTokens, Set<Integer> eosIds, boolean keepLogits)
      throws OrtException {
    checkPrompt(promptIds, maxNewTokens);
    int[] out = new int[maxNewTokens];
    List<float[]> rows = new ArrayList<>();
    OnnxTensor[] past = new OnnxTensor[2 * layers];
    OrtSession.Result previous = null;
    try {
      for (int i = 0; i < past.length; i++) {
        past[i] = OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[] {1, kvHeads, 0, headDim});
      }
      long[] feed = Arrays.stream(promptIds).asLongStream().toArray();
      int fed = 0;
      int n = 0;
      while (n < maxNewTokens) {
        OrtSession.Result result = run(feed, fed, past);
        if (previous != null) {
          previous.close(); // its presents were this call's pasts
        } else {
          closeAll(past);
        }
        previous = result;
        float[] last = lastRow(result, feed.length);
        for (int i = 0; i < layers; i++) {
          past[2 * i] = tensor(result, LlamaOnnxGraph.present(i, true));
          past[2 * i + 1] = tensor(result, LlamaOnnxGraph.present(i, false));
        }
        int next = argMax(last);
        if (keepLogits) {
          rows.add(last);
        }
        out[n++] = next;
        fed += feed.length;
        if (eosIds.contains(next)) {
          break;
        }
        feed = new long[] {next};
      }
      return new Decoded(Arrays.copyOf(out, n), rows.toArray(float[][]::new));
    } finally {
      if (previous != null) {
        previous.close();
      } else {
        closeAll(past);
      }
    }
  }

  /**
   * The logits {@code [L*V]} of one sequence fed whole with an empty cache (positions 0..L-1): the
   * full recompute a decoder without a cache would run per token.
   */
  public float[] logits(int[] ids) throws OrtException {
    checkPrompt(ids, 1);
    OnnxTensor[] past = new OnnxTensor[2 * layers];
    try {
      for (int i = 0; i < past.length; i++) {
        past[i] = OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[] {1, kvHeads, 0, headDim});
      }
      try (OrtSession.Result r = run(Arrays.stream(ids).asLongStream().toArray(), 0, past)) {
        FloatBuffer fb = tensor(r, LlamaOnnxGraph.LOGITS).getFloatBuffer();
        float[] all = new float[fb.remaining()];
        fb.get(all);
        return all;
      }
    } finally {
      closeAll(past);
    }
  }

  private OrtSession.Result run(long[] ids, int past, OnnxTensor[] pastTensors) throws OrtException {
    long[] positions = new long[ids.length];
    for (int i = 0; i < ids.length; i++) positions[i] = past + i;
    long[] mask = new long[past + ids.length];
    Arrays.fill(mask, 1L);
    try (OnnxTensor idsT = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
        OnnxTensor posT = OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, ids.length});
        OnnxTensor maskT = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length})) {
      Map<String, OnnxTensor> inputs = new HashMap<>();
      inputs.put(LlamaOnnxGraph.INPUT_IDS, idsT);
      inputs.put(LlamaOnnxGraph.POSITION_IDS, posT);
      inputs.put(LlamaOnnxGraph.ATTENTION_MASK, maskT);
      for (int i = 0; i < layers; i++) {
        inputs.put(LlamaOnnxGraph.past(i, true), pastTensors[2 * i]);
        inputs.put(LlamaOnnxGraph.past(i, false), pastTensors[2 * i + 1]);
      }
      return session.run(inputs);
    }
  }

  private float[] lastRow(OrtSession.Result result, int length) throws OrtException {
    OnnxTensor logits = tensor(result, LlamaOnnxGraph.LOGITS);
    int vocab = Math.toIntExact(logits.getInfo().getShape()[2]);
    FloatBuffer fb = logits.getFloatBuffer();
    float[] row = new float[vocab];
    fb.position((length - 1) * vocab);
    fb.get(row);
    return row;
  }

  private static OnnxTensor tensor(OrtSession.Result result, String name) {
    return (OnnxTensor) result.get(name).orElseThrow(() -> new IllegalStateException("no output " + name));
  }

  /** The index of the largest value, the lowest on ties. */
  static int argMax(float[] row) {
    int best = 0;
    for (int i = 1; i < row.length; i++) {
      if (row[i] > row[best]) best = i;
    }
    return best;
  }

  private void checkPrompt(int[] ids, int maxNewTokens) {
    if (ids.length == 0 || maxNewTokens < 0) {
      throw new IllegalArgumentException("need a non-empty prompt and maxNewTokens >= 0, got " + ids.length
          + " prompt tokens and maxNewTokens " + maxNewTokens);
    }
    for (int id : ids) {
      if (id < 0 || id >= config.vocabSize()) {
        throw new IllegalArgumentException("token " + id + " is outside the vocabulary [0," + config.vocabSize() + ")");
      }
    }
    int positions = ids.length + Math.max(0, maxNewTokens - 1); // the last token is never fed back
    if (positions > config.maxPositions()) {
      throw new IllegalArgumentException(
          positions + " positions exceed max_position_embeddings " + config.maxPositions());
    }
  }

  private static void closeAll(OnnxTensor[] tensors) {
    for (OnnxTensor t : tensors) {
      if (t != null) t.close();
    }
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
