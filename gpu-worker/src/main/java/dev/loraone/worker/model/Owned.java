package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;

/**
 * Tensors whose memory libtorch owns.
 *
 * <p>DJL's PyTorch {@code NDManager.create(float[]/long[] ...)} wraps a Java direct buffer with
 * {@code from_blob}: the tensor does not own its memory, only the Java {@code NDArray} keeps the
 * buffer alive. Autograd keeps such tensors (dropout masks, token ids, labels, parameters) for the
 * backward pass beyond that; once the buffer is collected, backward reads freed memory and
 * gradients of the lower layers turn to garbage. Every tensor we create from Java data is therefore
 * cloned into libtorch-owned memory right away.
 */
public final class Owned {
  private Owned() {}

  /**
   * Overwrites {@code target}'s values in place with {@code values} (row-major, same size). DJL's
   * {@code NDArray.set(float[])} instead points the tensor at a new Java direct buffer kept alive
   * only by a field of that one Java object; a parameter must keep memory libtorch owns.
   */
  public static void write(NDArray target, float[] values) {
    if (values.length != target.size()) {
      throw new IllegalArgumentException(values.length + " values for a tensor of shape " + target.getShape());
    }
    // grad mode is per thread in libtorch and on by default: an in-place write to a parameter that
    // requires grad is refused unless it is off (DJL turns it off only on the thread that loaded it)
    boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
    ai.djl.pytorch.jni.JniUtils.setGradMode(false);
    try (ai.djl.ndarray.NDManager tmp = target.getManager().newSubManager()) {
      NDArray src = copy(tmp.create(values, target.getShape()));
      target.set(new ai.djl.ndarray.index.NDIndex(":"), src);
    } finally {
      ai.djl.pytorch.jni.JniUtils.setGradMode(grad);
    }
  }

  /**
   * A libtorch-owned scalar of {@code like}'s manager and data type, for arithmetic on tensors in an
   * autograd graph: DJL's {@code mul(Number)} / {@code div(Number)} make the scalar with
   * {@code create(float)}, a {@code from_blob} over a Java direct buffer that the op's closing frees
   * only on the Java side; autograd saves that scalar for backward, and once a GC has run the
   * buffer's Cleaner, backward reads freed memory (the non-finite gradients of layer 0 that
   * ARCHITECTURE.md tracked). Same value and type as DJL's scalar, so results are bit-identical.
   */
  public static NDArray scalar(NDArray like, float value) {
    return copy(like.getManager().create(value)).toType(like.getDataType(), false);
  }

  /** A libtorch-owned clone of {@code fromJava}, attached to the same manager; the original is closed. */
  public static NDArray copy(NDArray fromJava) {
    NDArray owned = fromJava.duplicate();
    fromJava.close();
    return owned;
  }
}
