package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
    NDArray all = labels.toType(DataType.INT64, false);
    NDArray target = all.get(":, 1:" + l); // the next tokens of positions 0..L-2
    NDArray keep = target.neq(CausalLmEncoder.IGNORE_INDEX);
    NDArray safeTarget = target.mul(keep.toType(DataType.INT64, false)); // -100 -> 0, masked below
    NDArray gatherAt = safeTarget.concat(all.get(":, 0:1").zerosLike(), 1); // position L-1: any valid id
    NDArray logp = logits.logSoftmax(-1).gather(gatherAt.expandDims(-1), -1).squeeze(-1).get(":, 0:" + (l - 1));
    NDArray weights = keep.toType(DataType.FLOAT32, false);
    return new NDArray[] {logp.mul(weights).sum().neg(), weights.sum()};
  }

  /** The labels of a batch as an int64 {@code [B,L]} array. */
  public static NDArray labels(NDManager manager, CausalLmBatch batch) {
    return Owned.copy(manager.create(batch.labels(), new Shape(batch.batchSize(), batch.sequenceLength())));
  }
}
