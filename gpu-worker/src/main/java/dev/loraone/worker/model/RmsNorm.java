package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Root-mean-square LayerNorm (Zhang &amp; Sennrich 2019, arXiv:1910.07467), as HF {@code
 * LlamaRMSNorm}: no centring, no bias, statistics in float32 whatever the activation type.
 *
 * <pre>
 *   y = x / sqrt(mean(x^2, last axis) + eps) * w        x:[..,H]  w:[H]  y:[..,H] float32
 * </pre>
 */
final class RmsNorm {

  private RmsNorm() {}

  static NDArray apply(NDArray x, NDArray weight, float eps) {
    NDArray x32 = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    NDArray rms = x32.square().mean(new int[] {-1}, true).add(eps).sqrt();
    return x32.div(rms).mul(weight);
  }
}
