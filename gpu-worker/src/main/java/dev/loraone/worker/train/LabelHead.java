package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import dev.loraone.data.BadRecordException;
import dev.loraone.data.LabelDescriptions;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.data.WordNetLexnames;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.Owned;
import dev.loraone.worker.weights.Pooling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A label-initialised classification head ({@code head.init = labels}): each class's weight row is the
 * pretrained encoder's sentence embedding of a text naming the class, so the model is a zero-shot
 * classifier at step 0 and the encoder's one-step gradient {@code W_head^T (p - y)}, which LoRA-One
 * factorises, points at the task instead of along a random head's rows. Every setting of the LoRA-One
 * paper (Zhang et al. 2025) has a pretrained output layer; this gives an encoder classifier one.
 *
 * <pre>
 *   t_c    the text of class c: its task.labels description, else (built-in WordNet) its lexnames(5WN)
 *          description ("nouns denoting animals"), else the label itself
 *   p_c    = mean_l(h(t_c) * mask) / max(sum_l mask, 1e-9)    [H]    the classifier's own pooling of the
 *          base encoder's last_hidden_state (B = 0 when the job opens), texts in chunks of 32
 *   e_c    = p_c / max(||p_c||_2, 1e-12)                       unit sentence embedding
 *   m      = mean_c ||p_c||_2                                  a typical pooled norm
 *   W_c    = (T / m) e_c                  classifier.weight [C,H]   T = head.temperature (default 20)
 *   b      = 0                            classifier.bias   [C]
 *   logit_c(x) = W_c . p(x) = T (||p(x)|| / m) cos(p(x), p_c)  ~  T cos(x, t_c)
 * </pre>
 * Pooled features are not unit-norm, so the row scale divides by their typical norm: the logits are
 * then a cosine at the temperature, as in sentence-transformers' losses and {@code task.scale}. The
 * rows use the pooling the classifier applies to examples (mean), so each logit compares like with
 * like; for BGE, a CLS-pooling model, CLS-pooled rows were not worth the mismatch (zero-shot 0.404
 * against 0.389 for mean-pooled rows on 512 WordNet validation examples: within noise). The model must
 * still be a sentence-embedding model, one with a pooling convention (the built-in models, or a folder
 * with sentence-transformers' {@code 1_Pooling/config.json}): a plain BERT's pooled states were never
 * trained to be compared, and its "zero-shot" head is noise.
 *
 * <p>Runs when the job opens, before any warm-up or init, from the job's model, data and tokenizer
 * alone: every worker computes the same bits, and the engine's layout carries them as the head's
 * initial values.
 */
final class LabelHead {
  /** Texts per forward: fixed, so the rows do not depend on anything but the texts. */
  static final int CHUNK = 32;

  /** Pooled label rows by base model, device, length limit and texts; the 32 most recently used (read-only). */
  private static final Map<String, float[][]> POOLED = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, float[][]> eldest) {
      return size() > 32;
    }
  };

  private LabelHead() {}

  /**
   * The text of each class of {@code task}, in id order ({@code t_c} above). Checks first that
   * {@code model} has a pooling convention; a wrong labels file is an IllegalArgumentException whose
   * message starts with its {@code file:line}.
   */
  static List<String> texts(String model, TaskData task, Path labelsFile) throws IOException {
    requirePoolingConvention(model);
    Map<String, String> described;
    try {
      described = labelsFile == null ? Map.of() : LabelDescriptions.read(labelsFile, task.labels());
    } catch (BadRecordException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    boolean wordnet = task.name().equals(TaskData.WORDNET) || task.name().equals(TaskData.WORDNET_ALL);
    List<String> out = new ArrayList<>();
    for (String label : task.labels().labels()) {
      String lexname = wordnet ? WordNetLexnames.description(label) : null;
      out.add(described.getOrDefault(label, lexname != null ? lexname : label));
    }
    return out;
  }

  /**
   * Refuses a model without a sentence-embedding pooling convention: the built-in models have one, a
   * folder has one in {@code 1_Pooling/config.json}; the error names the file it lacks.
   */
  static void requirePoolingConvention(String model) {
    Path dir = Path.of(model);
    if (!Files.isDirectory(dir)) {
      BertSource.known(model); // a built-in model (its Known.pooling()), or the unknown-model error
      return;
    }
    Path config = dir.resolve("1_Pooling").resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new IllegalArgumentException("'job.head.init' = labels needs a sentence-embedding model, but " + config
          + " does not exist: 'job.model' = " + model + " has no pooling convention, so its pooled states are no"
          + " sentence embeddings to start a head from (add sentence-transformers' 1_Pooling/config.json, or use"
          + " head.init = random or warmup)");
    }
  }

  /** Forgets the pooled rows kept for reuse (tests: force a recomputation). */
  static void forgetPooled() {
    synchronized (POOLED) {
      POOLED.clear();
    }
  }

  /** Writes the labels head of {@code texts} into {@code model}'s {@code classifier.weight} and {@code .bias}. */
  static void write(BertLoraModel model, Device device, TextTokenizer tok, List<String> texts, double temperature) {
    write(model, device, tok, texts, temperature, null);
  }

  /**
   * {@link #write(BertLoraModel, Device, TextTokenizer, List, double)}, reusing the pooled rows of an
   * earlier job on the same base model ({@code modelHash}), device, length limit and texts: the base
   * encoder's embedding of the label texts depends on nothing else (every B is 0, no dropout), and a
   * worker that opens many jobs on one base model embeds them once (about 0.8 s for 26 WordNet
   * descriptions on 2 cores). Null {@code modelHash}: no reuse.
   */
  static void write(BertLoraModel model, Device device, TextTokenizer tok, List<String> texts, double temperature,
      String modelHash) {
    String key = modelHash == null ? null
        : modelHash + "|" + device + "|" + tok.maxLength() + "|" + String.join("\u0000", texts);
    float[][] pooled;
    synchronized (POOLED) {
      pooled = key == null ? null : POOLED.get(key);
    }
    if (pooled == null) {
      pooled = pooled(model, device, tok, texts, Pooling.MEAN);
      if (key != null) {
        synchronized (POOLED) {
          POOLED.put(key, pooled);
        }
      }
    }
    Owned.write(model.namedParameters().get("classifier.weight").getArray(), weights(pooled, temperature));
    Owned.write(model.namedParameters().get("classifier.bias").getArray(), new float[texts.size()]);
  }

  /** {@code W = (T / m) e}, row-major {@code [C,H]}, from the pooled rows {@code p_c} (the table above). */
  static float[] weights(float[][] pooled, double temperature) {
    int c = pooled.length;
    int h = pooled[0].length;
    double[] norms = new double[c];
    double mean = 0;
    for (int i = 0; i < c; i++) {
      double s = 0;
      for (float v : pooled[i]) s += (double) v * v;
      norms[i] = Math.sqrt(s);
      mean += norms[i] / c;
    }
    if (!(mean > 0) || !Double.isFinite(mean)) {
      throw new IllegalStateException("the label texts' pooled embeddings have mean norm " + mean);
    }
    float[] w = new float[c * h];
    for (int i = 0; i < c; i++) {
      double k = temperature / mean / Math.max(norms[i], EmbeddingStepper.NORM_EPS);
      for (int j = 0; j < h; j++) w[i * h + j] = (float) (k * pooled[i][j]);
    }
    return w;
  }

  /**
   * The base encoder's pooled state of each text, {@code [texts, H]}: {@code MEAN} is the classifier's
   * pooling (the table above), {@code CLS} the first token's state.
   */
  static float[][] pooled(BertLoraModel model, Device device, TextTokenizer tok, List<String> texts, Pooling pooling) {
    List<float[]> rows = new ArrayList<>();
    try (NDManager m = NDManager.newBaseManager(device, "PyTorch")) {
      ParameterStore store = new ParameterStore(m, false);
      for (int from = 0; from < texts.size(); from += CHUNK) {
        TokenBatch t = tok.encode(texts.subList(from, Math.min(texts.size(), from + CHUNK)));
        try (NDManager step = m.newSubManager()) {
          var in = BertStepper.inputs(step, t);
          NDArray hidden = model.forward(store, in, false).get(1);
          NDArray mask = in.get(2).toType(DataType.FLOAT32, false).expandDims(-1);
          NDArray p = pooling == Pooling.CLS ? hidden.get(new NDIndex(":, 0, :"))
              : hidden.mul(mask).sum(new int[] {1}).div(mask.sum(new int[] {1}).maximum(1e-9f));
          int h = (int) p.getShape().get(1);
          float[] flat = p.toFloatArray();
          for (int r = 0; r < t.batchSize(); r++) {
            float[] row = new float[h];
            System.arraycopy(flat, r * h, row, 0, h);
            rows.add(row);
          }
        }
      }
    }
    return rows.toArray(new float[0][]);
  }
}
