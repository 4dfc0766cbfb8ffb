package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Root-mean-square LayerNorm (Zhang &amp; Sennrich 2019, arXiv:1910.07467), as HF {@code
 * LlamaRMSNorm}: no centring, no bias, statistics in float32 whatever the activation type.
 *
 * <pre>
 *   y = x * (mean(x^2, last axis) + eps)^-1/2 * w        x:[..,H]  w:[H]  y:[..,H] float32
 * </pre>
 */
final class RmsNorm {

  private RmsNorm() {}

  static NDArray apply(NDArray x, NDArray weight, float eps) {
    NDArray x32 = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    NDArray inverse = x32.square().mean(new int[] {-1}, true).add(eps)
        .pow(Owned.scalar(x32, -0.5f)); // as HF's rsqrt; an owned exponent, which backward reads (see Owned)
    return x32.mul(inverse).mul(weight);
  }
}
