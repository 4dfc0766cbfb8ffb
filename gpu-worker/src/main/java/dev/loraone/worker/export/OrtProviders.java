package dev.loraone.worker.export;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which ONNX Runtime execution provider runs the exported models: CUDA when the {@code gpu} build's
 * {@code onnxruntime_gpu} offers it and a GPU is there, else the CPU; logged either way, so a user
 * sees where inference ran.
 */
public final class OrtProviders {
  private static final Logger LOG = LoggerFactory.getLogger(OrtProviders.class);

  private OrtProviders() {}

  /**
   * Adds CUDA device 0 to {@code options} when this ONNX Runtime build has the CUDA provider and the
   * device opens; otherwise leaves the CPU provider.
   *
   * @return {@code cuda:0} or {@code cpu}
   */
  public static String choose(OrtSession.SessionOptions options) {
    if (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
      try {
        options.addCUDA(0);
        LOG.info("ONNX Runtime: CUDA execution provider on cuda:0");
        return "cuda:0";
      } catch (OrtException | RuntimeException e) {
        LOG.info("ONNX Runtime: the CUDA provider is built in but did not open ({}); using the CPU", e.getMessage());
        return "cpu";
      }
    }
    LOG.info("ONNX Runtime: CPU execution provider (no CUDA provider in this build)");
    return "cpu";
  }
}
