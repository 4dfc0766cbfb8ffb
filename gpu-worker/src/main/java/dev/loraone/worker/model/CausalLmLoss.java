package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.loss.Loss;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;

/**
 * Next-token cross-entropy of a causal LM, as HF's {@code ForCausalLMLoss}: the logits at position
 * t are scored against the label at t+1, and positions labelled {@code -100} ({@link
 * CausalLmEncoder#IGNORE_INDEX}: prompt, BOS, padding) carry no loss.
 *
 * <pre>
 *   logits:[B,L,V]  labels:[B,L] int64 (unshifted, as {@link CausalLmBatch#labels()})
 *   loss = sum_{b, t<L-1, y=labels[b,t+1] != -100} -log softmax(logits[b,t])[y]  /  max(#such positions, 1)
 * </pre>
 *
 * A batch without labelled positions (or with L < 2) gives 0 (HF gives NaN). As a DJL {@link Loss}, {@code
 * evaluate(labels, predictions)} takes the labels first and the logits as the head of the
 * predictions.
 */
public final class CausalLmLoss extends Loss {

  public CausalLmLoss() {
    super("CausalLmLoss");
  }

  @Override
  public NDArray evaluate(NDList labels, NDList predictions) {
    return mean(predictions.head(), labels.head());
  }

  /** The mean token loss, a scalar float32. */
  public static NDArray mean(NDArray logits, NDArray labels) {
    NDArray[] sumCount = sumAndCount(logits, labels);
    return sumCount[0].div(sumCount[1].maximum(1f));
  }

  /**
   * The summed token loss and the number of labelled positions, both float32 scalars: what
   * micro-batches of one step add up before dividing once, so that the mean does not depend on how
   * a batch is split.
   */
  public static NDArray[] sumAndCount(NDArray logits, NDArray labels) {
    Shape s = logits.getShape();
    if (s.dimension() != 3 || !labels.getShape().equals(s.slice(0, 2))) {
      throw new IllegalArgumentException(
          "logits must be [B,L,V] and labels [B,L], got " + s + " and " + labels.getShape());
    }
    long l = s.get(1);
    if (l < 2) { // nothing to predict: no position has a next token
      NDManager m = logits.getManager();
      return new NDArray[] {m.create(0f), m.create(0f)};
    }
    // Gather at every position, then drop the last one on the small [B,L] result: slicing the
    // [B,L,V] logits instead costs a zero-fill and a copy of the whole vocabulary-sized gradient per
    // sliced axis in backward. Rows are independent in log-softmax, so positions 0..L-2 get the same
    // bits either way; the last row's gradient is exactly 0 as before.
    Next next = next(labels, l);
    NDArray logp = logits.logSoftmax(-1).gather(next.ids().expandDims(-1), -1).squeeze(-1).get(":, 0:" + (l - 1));
    NDArray weights = next.keep().toType(DataType.FLOAT32, false);
    return new NDArray[] {logp.mul(weights).sum().neg(), weights.sum()};
  }

  /**
   * The next token of every position, {@code ids:[B,L]} int64 (-100 and the last position, which has no next
   * token, read as id 0), and {@code keep:[B,L-1]}: whether positions 0..L-2 are labelled.
   */
  private record Next(NDArray ids, NDArray keep) {}

  private static Next next(NDArray labels, long l) {
    NDArray all = labels.toType(DataType.INT64, false);
    NDArray target = all.get(":, 1:" + l); // the next tokens of positions 0..L-2
    NDArray keep = target.neq(CausalLmEncoder.IGNORE_INDEX);
    NDArray safeTarget = target.mul(keep.toType(DataType.INT64, false)); // -100 -> 0, masked by keep
    return new Next(safeTarget.concat(all.get(":, 0:1").zerosLike(), 1), keep); // position L-1: any valid id
  }

  /**
   * {@link #sumAndCount} of the logits {@code hidden · head^T} without materialising them: for a head that
   * takes no gradient (tied to a frozen embedding, or a plain frozen lm_head). The vocabulary-sized arrays
   * exist one chunk of positions at a time ({@link #chunkRows}: at most {@value #CHUNK_FLOATS} floats, 64
   * MiB), so a step never allocates, faults in and zero-fills the whole {@code [B,L,V]} logits, their
   * log-softmax and their gradients (100 MB each at SmolLM2's vocabulary and 512 tokens, 263 MB at Llama 3's).
   *
   * <pre>
   *   per chunk c (autograd off):  z = h_c head^T  [n,V]    logp = log_softmax(z)    loss += -sum_t w_t logp[t, y_t]
   *                                dL/dh_c = w * (softmax(z) head - head[y])       [n,H]   (w: 1 labelled, 0 not)
   *   sum = S - detach(S) + loss,  S = sum(hidden * detach(dL/dh))      value: the loss; gradient wrt hidden: dL/dh
   * </pre>
   *
   * The gradient is the cross-entropy's, {@code softmax - onehot}, in closed form (not bit-identical to
   * autograd's log-softmax backward); with {@code graph} false (evaluation) only the loss is computed.
   */
  public static NDArray[] fromHidden(NDArray hidden, NDArray head, NDArray labels, boolean graph) {
    return fromHidden(hidden, head, labels, graph, chunkRows(head.getShape().get(0)));
  }

  /** {@link #fromHidden(NDArray, NDArray, NDArray, boolean)} with {@code rows} positions per chunk. */
  static NDArray[] fromHidden(NDArray hidden, NDArray head, NDArray labels, boolean graph, int rows) {
    Shape s = hidden.getShape();
    if (s.dimension() != 3 || !labels.getShape().equals(s.slice(0, 2)) || head.getShape().dimension() != 2
        || head.getShape().get(1) != s.get(2)) {
      throw new IllegalArgumentException("hidden must be [B,L,H], labels [B,L] and head [V,H], got " + s + ", "
          + labels.getShape() + " and " + head.getShape());
    }
    NDManager m = hidden.getManager();
    long b = s.get(0);
    long l = s.get(1);
    long h = s.get(2);
    if (l < 2) {
      return new NDArray[] {m.create(0f), m.create(0f)};
    }
    long n = b * l;
    Next next = next(labels, l);
    NDArray ids = next.ids().reshape(n);
    NDArray keep = next.keep().toType(DataType.FLOAT32, false);
    NDArray weights = keep.concat(keep.get(":, 0:1").zerosLike(), 1).reshape(n); // position L-1: weight 0
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    NDArray loss = m.create(0f);
    NDArray dh = null;
    try {
      NDArray flat = hidden.stopGradient().reshape(n, h);
      NDList parts = new NDList();
      for (long r = 0; r < n; r += rows) {
        long e = Math.min(n, r + rows);
        try (NDManager chunk = m.newSubManager()) {
          NDArray hc = flat.get(r + ":" + e);
          hc.tempAttach(chunk);
          NDArray y = ids.get(r + ":" + e);
          NDArray w = weights.get(r + ":" + e);
          y.tempAttach(chunk);
          w.tempAttach(chunk);
          NDArray logp = Linear.linear(hc, head).head().logSoftmax(-1);
          NDArray picked = logp.gather(y.expandDims(-1), -1).squeeze(-1);
          NDArray sum = picked.mul(w).sum().neg();
          sum.attach(m);
          loss = loss.add(sum);
          if (graph) {
            NDArray g = logp.exp().matMul(head)
                .sub(Embedding.embedding(y, head, SparseFormat.DENSE).head())
                .mul(w.expandDims(-1));
            g.attach(m);
            parts.add(g);
          }
        }
      }
      if (graph) dh = NDArrays.concat(parts, 0).reshape(s);
    } finally {
      JniUtils.setGradMode(grad);
    }
    NDArray count = weights.sum();
    if (!graph) {
      return new NDArray[] {loss, count};
    }
    NDArray surrogate = hidden.mul(dh).sum();
    return new NDArray[] {surrogate.sub(surrogate.stopGradient()).add(loss), count};
  }

  /**
   * The most floats a chunk's vocabulary-sized array holds in {@link #fromHidden}: 64 MiB (341 positions at
   * SmolLM2's vocabulary, 130 at Llama 3's). Larger chunks read the head fewer times: at 85 positions its two
   * products ran at 211 and 248 GFLOP/s, at 341 at 227 and 291 (docs/results/llama-step-speed.md).
   */
  static final long CHUNK_FLOATS = 16L << 20;

  /** Positions per chunk for a vocabulary of {@code vocab}: as many as {@value #CHUNK_FLOATS} floats hold, >= 1. */
  public static int chunkRows(long vocab) {
    return (int) Math.max(1, CHUNK_FLOATS / vocab);
  }

  /** The labels of a batch as an int64 {@code [B,L]} array. */
  public static NDArray labels(NDManager manager, CausalLmBatch batch) {
    return Owned.copy(manager.create(batch.labels(), new Shape(batch.batchSize(), batch.sequenceLength())));
  }
}
