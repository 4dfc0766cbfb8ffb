package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Root-mean-square LayerNorm (Zhang &amp; Sennrich 2019, arXiv:1910.07467), as HF {@code
 * LlamaRMSNorm}: no centring, no bias, statistics in float32 whatever the activation type.
 *
 * <pre>
 *   y = x * (||x||^2 / H + eps)^-1/2 * w        (||x||^2 / H = mean(x^2))        x:[..,H]  w:[H]  y:[..,H] float32
 * </pre>
 */
final class RmsNorm {

  private RmsNorm() {}

  static NDArray apply(NDArray x, NDArray weight, float eps) {
    NDArray x32 = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    // mean(x^2) as ||x||^2 / H: one reduction forward, one fused pass in backward (x * grad / ||x||)
    long h = x32.getShape().getLastDimension();
    NDArray norm = x32.norm(2, new int[] {-1}, true);
    NDArray inverse = norm.square().div(Owned.scalar(norm, h)).add(eps)
        .pow(Owned.scalar(norm, -0.5f)); // as HF's rsqrt; owned scalars, which backward reads (see Owned)
    return x32.mul(inverse).mul(weight);
  }
}
