package dev.loraone.worker.export;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.weights.PretrainedModels;
import dev.loraone.worker.weights.PretrainedModels.Known;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/** Shared pieces of the export tests: non-zero adapters, a DJL forward on a token batch, comparisons. */
final class ExportFixtures {

  private ExportFixtures() {}

  /** The DJL model's outputs for one batch: head output (logits or pooled) and last_hidden_state. */
  record DjlOutputs(float[] head, float[] hidden) {}

  /**
   * Sets every adapter to seeded normal(0, std) values in A and B, so that s*B*A is non-zero and
   * the merge is actually exercised.
   */
  static void randomizeAdapters(BertLoraModel model, long seed, double std) {
    SplittableRandom random = new SplittableRandom(seed);
    for (String module : model.adaptedModules()) {
      model.setLoraA(module, gaussian(random, model.getLoraA(module).length, std));
      model.setLoraB(module, gaussian(random, model.getLoraB(module).length, std));
    }
  }

  private static float[] gaussian(SplittableRandom random, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (std * random.nextGaussian());
    }
    return v;
  }

  /** Inference forward of the DJL model on {@code batch}, in a sub-manager closed here. */
  static DjlOutputs forward(BertLoraModel model, NDManager manager, TokenBatch batch) {
    try (NDManager step = manager.newSubManager()) {
      Shape s = new Shape(batch.batchSize(), batch.sequenceLength());
      NDList in = new NDList(step.create(batch.inputIds(), s), step.create(batch.tokenTypeIds(), s),
          step.create(batch.attentionMask(), s));
      NDList out = model.forward(new ParameterStore(step, false), in, false);
      return new DjlOutputs(out.get(0).toFloatArray(), out.get(1).toFloatArray());
    }
  }

  /** Every parameter's values by HF name (a deep copy). */
  static Map<String, float[]> snapshot(BertLoraModel model) {
    Map<String, float[]> values = new HashMap<>();
    model.namedParameters().forEach((name, p) -> values.put(name, p.getArray().toFloatArray()));
    return values;
  }

  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs((double) a[i] - b[i]));
    }
    return max;
  }

  /** A seeded batch of random token ids in [1, vocab), right-padded rows of lengths {@code lengths}. */
  static TokenBatch randomBatch(long seed, int vocab, int... lengths) {
    SplittableRandom random = new SplittableRandom(seed);
    int len = 0;
    for (int l : lengths) {
      len = Math.max(len, l);
    }
    long[] ids = new long[lengths.length * len];
    long[] mask = new long[ids.length];
    long[] types = new long[ids.length];
    for (int r = 0; r < lengths.length; r++) {
      for (int t = 0; t < lengths[r]; t++) {
        ids[r * len + t] = random.nextInt(1, vocab);
        mask[r * len + t] = 1;
        types[r * len + t] = t >= lengths[r] / 2 ? 1 : 0;
      }
    }
    return new TokenBatch(lengths.length, len, ids, mask, types);
  }

  /** Copies MiniLM's tokenizer.json into {@code dir}; returns the file. */
  static Path writeMiniLmTokenizer(Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    try (InputStream in = PretrainedModels.openTokenizerJson(Known.ALL_MINILM_L6_V2)) {
      Files.copy(in, file);
    }
    return file;
  }

  /** Mean of the hidden states [B,L,h] over each row's real tokens (right padding). */
  static float[] maskedMean(float[] hidden, TokenBatch b, int h) {
    float[] out = new float[b.batchSize() * h];
    for (int r = 0; r < b.batchSize(); r++) {
      int n = b.length(r);
      for (int t = 0; t < n; t++) {
        for (int k = 0; k < h; k++) {
          out[r * h + k] += hidden[(r * b.sequenceLength() + t) * h + k] / n;
        }
      }
    }
    return out;
  }

  /** W + s*B*A accumulated in double, rounded once: W:[out,in] B:[out,r] A:[r,in]. */
  static float[] mergeInDouble(float[] w, float[] bMat, float[] aMat, int out, int r, int in, float s) {
    float[] merged = new float[w.length];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        double d = 0;
        for (int k = 0; k < r; k++) {
          d += (double) bMat[o * r + k] * aMat[k * in + i];
        }
        merged[o * in + i] = (float) (w[o * in + i] + s * d);
      }
    }
    return merged;
  }
}
