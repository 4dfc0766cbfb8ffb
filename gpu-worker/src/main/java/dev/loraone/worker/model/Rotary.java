package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embeddings (Su et al. 2021, RoFormer, arXiv:2104.09864) in HF's rotate-half
 * layout: feature i of a head is paired with feature i + d/2, not with its neighbour.
 *
 * <pre>
 *   inv_freq[i] = theta^(-2i/d), scaled per rope_scaling   i < d/2  (LlamaConfig.ropeInvFreq)
 *   angle[p,i]  = p * inv_freq[i mod d/2]            cos, sin: [L,d]  for positions p = start..start+L-1
 *   rot(x)      = x * cos + rotate_half(x) * sin     rotate_half([x1, x2]) = [-x2, x1]   x:[B,heads,L,d]
 * </pre>
 *
 * Angles are formed in float32 as HF does ({@code inv_freq @ position_ids} in float), so long
 * positions round the same way as the original model.
 */
final class Rotary {

  private final int headDim;
  private final float[] invFreq;

  /** @param invFreq the {@code [headDim/2]} inverse frequencies (shared with the ONNX export) */
  Rotary(int headDim, float[] invFreq) {
    if (invFreq.length != headDim / 2) {
      throw new IllegalArgumentException("need " + headDim / 2 + " inverse frequencies, got " + invFreq.length);
    }
    this.headDim = headDim;
    this.invFreq = invFreq.clone();
  }

  /**
   * cos and the signed sin, each {@code [length, d]}, for positions {@code start .. start+length-1}:
   * {@code sin[p, i] = -sin(angle)} for i < d/2 (rotate_half's negation, so {@link #apply} only swaps the
   * halves; {@code (-x2) s = x2 (-s)} bit for bit).
   */
  NDList table(NDManager manager, int start, int length) {
    float[] cos = new float[length * headDim];
    float[] sin = new float[length * headDim];
    int half = headDim / 2;
    for (int p = 0; p < length; p++) {
      for (int i = 0; i < half; i++) {
        float angle = (float) (start + p) * invFreq[i];
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        int row = p * headDim;
        cos[row + i] = c;
        cos[row + half + i] = c;
        sin[row + i] = -s; // rotate_half's sign, folded into the table
        sin[row + half + i] = s;
      }
    }
    Shape shape = new Shape(length, headDim);
    return new NDList(Owned.copy(manager.create(cos, shape)), Owned.copy(manager.create(sin, shape)));
  }

  /**
   * Rotates {@code x:[..,L,..,d]} by the table of its L positions ({@link #table}, shaped to broadcast
   * against x, e.g. {@code [L,1,d]} for {@code x:[B,L,heads,d]}).
   */
  static NDArray apply(NDArray x, NDArray cos, NDArray signedSin) {
    int last = x.getShape().dimension() - 1; // PtNDArray.split rejects a negative axis
    NDList halves = x.split(2, last);
    NDArray swapped = halves.get(1).concat(halves.get(0), last);
    return x.mul(cos).addi(swapped.mul(signedSin)); // in place: the product is not saved for backward
  }
}
