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

  /** A libtorch-owned clone of {@code fromJava}, attached to the same manager; the original is closed. */
  public static NDArray copy(NDArray fromJava) {
    NDArray owned = fromJava.duplicate();
    fromJava.close();
    return owned;
  }
}
