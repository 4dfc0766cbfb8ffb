package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DJL work of one micro-batch of {@code (query, positive[, negative])} pairs on a
 * {@link BertLoraModel} with an embedding head: sentence-transformers' MultipleNegativesRankingLoss
 * (in-batch negatives; Henderson et al. 2017, arXiv:1705.00652), its LoRA gradients, the full
 * gradient of the adapted base weights (LoRA-One's one-step estimate), and unit embeddings.
 *
 * <pre>
 *   rows     B queries, then B positives, then N hard negatives        one forward, [B+B+N, L] tokens
 *   e        = pooled / max(||pooled||_2, 1e-12)                       [B+B+N, H]   (pooling: the model's head)
 *   S        = scale * e[0:B] e[B:]^T                                  [B, B+N]     cosine similarities x scale
 *   S_ij     = -inf (in effect) where j != i and candidate j's text is query i's positive  (a duplicate
 *                                                                       positive is no negative)
 *   loss     = -1/B sum_i log softmax(S_i)_i                           query i's positive is candidate i
 * </pre>
 * The pool is the micro-batch: its positives, plus its hard negatives, so a unit's loss does not
 * depend on which worker computed it. Each call runs in a sub-manager closed before returning;
 * gradients are read and zeroed as in {@link BertStepper}. Not thread-safe; one gradient collector
 * per JVM at a time.
 */
public final class EmbeddingStepper implements AutoCloseable {
  /** The L2 normalisation's clamp, as {@code torch.nn.functional.normalize}. */
  static final float NORM_EPS = 1e-12f;

  private final BertLoraModel model;
  private final NDManager manager;
  private final ParameterStore store;

  /**
   * One micro-batch of pairs as one token batch: rows {@code [0,queries)} the queries, then as many
   * positives in the same order, then the hard negatives.
   */
  public record PairBatch(TokenBatch tokens, int queries, boolean[][] excluded) {
    public PairBatch {
      if (queries < 1 || tokens.batchSize() < 2 * queries) {
        throw new IllegalArgumentException(
            tokens.batchSize() + " rows cannot hold " + queries + " queries and their positives");
      }
      if (excluded != null && (excluded.length != queries || excluded[0].length != tokens.batchSize() - queries)) {
        throw new IllegalArgumentException("the exclusion mask must be [" + queries + ", "
            + (tokens.batchSize() - queries) + "]");
      }
    }

    /** A pool without duplicate positives: every other candidate is a negative. */
    public PairBatch(TokenBatch tokens, int queries) {
      this(tokens, queries, null);
    }

    /**
     * Which candidates are no negatives of which query: {@code [i][j]} when {@code j != i} and
     * candidate {@code j} (positives, then hard negatives) reads as query {@code i}'s positive; null
     * when there is none, so a pool without duplicates computes exactly as before.
     */
    public static boolean[][] duplicates(List<String> positives, List<String> negatives) {
      int b = positives.size();
      boolean[][] out = new boolean[b][b + negatives.size()];
      boolean any = false;
      for (int i = 0; i < b; i++) {
        for (int j = 0; j < b + negatives.size(); j++) {
          String c = j < b ? positives.get(j) : negatives.get(j - b);
          if (j != i && c.equals(positives.get(i))) {
            out[i][j] = true;
            any = true;
          }
        }
      }
      return any ? out : null;
    }
  }

  /** LoRA gradients of one micro-batch's mean loss, row-major: per module {@code gA:[r,in]}, {@code gB:[out,r]}. */
  public record LoraGradients(double loss, int examples, Map<String, float[][]> adapters) {}

  /** Full gradients of the adapted base weights {@code [out,in]} for one micro-batch's mean loss. */
  public record FullGradients(double loss, Map<String, float[]> weights) {}

  public EmbeddingStepper(BertLoraModel model) {
    this(model, Device.cpu());
  }

  /** A stepper whose model, activations and gradients live on {@code device}; only read-outs cross to the host. */
  public EmbeddingStepper(BertLoraModel model, Device device) {
    if (!(model.head() instanceof BertLoraModel.Head.Embedding)) {
      throw new IllegalArgumentException("an embedding stepper needs a model with an embedding head, not "
          + model.head());
    }
    this.model = model;
    this.manager = NDManager.newBaseManager(device, "PyTorch");
    model.initialize(manager);
    this.store = new ParameterStore(manager, false);
  }

  public BertLoraModel model() {
    return model;
  }

  /** Forward + backward in LoRA mode; dropout masks follow {@code dropoutSeed}. */
  public LoraGradients loraGradients(PairBatch batch, long dropoutSeed, double scale) {
    model.freezeBase();
    model.setDropoutSeed(dropoutSeed);
    try (NDManager step = manager.newSubManager()) {
      double loss = forwardBackward(step, batch, scale);
      Map<String, float[][]> adapters = new LinkedHashMap<>();
      Map<String, Parameter> named = model.namedParameters();
      for (String m : model.adaptedModules()) {
        adapters.put(m, new float[][] {BertStepper.takeGradient(named.get(m + ".lora_A.weight")),
            BertStepper.takeGradient(named.get(m + ".lora_B.weight"))});
      }
      return new LoraGradients(loss, batch.queries(), adapters);
    }
  }

  /** Forward + backward in full-gradient mode: gradients of the adapted modules' base weights only. */
  public FullGradients fullGradients(PairBatch batch, double scale) {
    return fullGradients(batch, scale, model.adaptedModules());
  }

  /** {@link #fullGradients(PairBatch, double)} of {@code modules} only: the others' weights take no gradient. */
  public FullGradients fullGradients(PairBatch batch, double scale, List<String> modules) {
    Map<String, float[]> grads = new LinkedHashMap<>();
    double loss = fullGradients(batch, scale, modules, grads::put);
    return new FullGradients(loss, grads);
  }

  /**
   * {@link #fullGradients(PairBatch, double, List)} streamed: each module's gradient is read, its native
   * array handed to {@code sink} and freed, in module order; returns the batch's loss.
   */
  public double fullGradients(PairBatch batch, double scale, List<String> modules, Workload.GradientSink sink) {
    model.fullGradientMode(modules);
    try (NDManager step = manager.newSubManager()) {
      double loss = forwardBackward(step, batch, scale);
      for (String m : modules) {
        try (NDArray g = model.linear(m).takeWeightGradient()) {
          sink.accept(m, g);
        }
      }
      return loss;
    } finally {
      model.freezeBase();
    }
  }

  /** Inference-mode unit embeddings, one row of H per text of {@code tokens}. */
  public float[][] embed(TokenBatch tokens) {
    try (NDManager step = manager.newSubManager()) {
      NDArray e = normalize(model.forward(store, BertStepper.inputs(step, tokens), false).head());
      int h = (int) e.getShape().get(1);
      float[] flat = e.toFloatArray();
      float[][] out = new float[tokens.batchSize()][h];
      for (int r = 0; r < out.length; r++) System.arraycopy(flat, r * h, out[r], 0, h);
      return out;
    }
  }

  private double forwardBackward(NDManager step, PairBatch batch, double scale) {
    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray pooled = model.forward(store, BertStepper.inputs(step, batch.tokens()), true).head();
      NDArray loss = rankingLoss(step, pooled, batch.queries(), (float) scale, batch.excluded());
      gc.backward(loss);
      return loss.getFloat();
    }
  }

  /** {@code e / max(||e||_2, 1e-12)} row by row. */
  static NDArray normalize(NDArray e) {
    return e.div(e.square().sum(new int[] {1}, true).sqrt().maximum(NORM_EPS));
  }

  /**
   * The mean in-batch-negatives loss of pooled rows {@code [queries; positives; negatives]} (the
   * table in the class comment). A scalar in the graph of {@code pooled}; the target mask lives in {@code m}.
   */
  static NDArray rankingLoss(NDManager m, NDArray pooled, int queries, float scale, boolean[][] excluded) {
    NDArray e = normalize(pooled);
    long rows = e.getShape().get(0);
    NDArray q = e.get(new NDIndex("0:" + queries));
    NDArray c = e.get(new NDIndex(queries + ":" + rows));
    NDArray s = q.matMul(c.transpose()).mul(scale);
    if (excluded != null) { // a finite -1e4: exp underflows to 0, and 0 x logp stays 0 (no NaN from -inf)
      int n = (int) (rows - queries);
      float[] mask = new float[queries * n];
      for (int i = 0; i < queries; i++) for (int j = 0; j < n; j++) mask[i * n + j] = excluded[i][j] ? -1e4f : 0;
      s = s.add(m.create(mask, new Shape(queries, n)).toDevice(s.getDevice(), false));
    }
    NDArray logp = s.logSoftmax(1); // [B, B+N]
    NDArray target = m.eye(queries, (int) (rows - queries), 0, DataType.FLOAT32);
    return logp.mul(target).sum().div(-queries);
  }

  @Override
  public void close() {
    manager.close();
  }
}
