package dev.loraone.worker.weights;

import dev.loraone.worker.weights.PretrainedModels.Known;
import dev.loraone.worker.weights.PretrainedModels.Pretrained;

/**
 * all-MiniLM-L6-v2 read once per test JVM (surefire runs the test classes in one fork): the ONNX
 * bytes for ONNX Runtime and the imported weights for DJL. Loading costs about 2 s and 180 MB heap.
 */
public final class MiniLmFixture {

  private static byte[] onnx;
  private static Pretrained pretrained;

  private MiniLmFixture() {}

  /** The original ONNX file from the langchain4j jar. */
  public static synchronized byte[] onnxBytes() {
    if (onnx == null) {
      onnx = PretrainedModels.readOnnx(Known.ALL_MINILM_L6_V2);
    }
    return onnx;
  }

  /** Its config and HF-named weights. */
  public static synchronized Pretrained pretrained() {
    if (pretrained == null) {
      pretrained = PretrainedModels.fromOnnx(Known.ALL_MINILM_L6_V2, onnxBytes());
    }
    return pretrained;
  }
}
