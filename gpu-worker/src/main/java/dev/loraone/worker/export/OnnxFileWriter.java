package dev.loraone.worker.export;

import ai.djl.nn.Parameter;
import ai.onnx.proto.OnnxMl.ModelProto;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;

/**
 * The one export procedure every model family's graph goes through ({@link BertOnnxGraph},
 * {@link LlamaOnnxGraph}): weights inside the {@code .onnx} file up to a threshold, else in a
 * {@code <file>.data} side file (ONNX external data); the model written to a temp file and renamed
 * into place, so a reader never sees half a model; a failed export leaves neither file behind.
 *
 * <pre>
 *   weights <= threshold   model.onnx                    (protobuf's 2 GB limit: default threshold 1.8 GB)
 *   weights >  threshold   model.onnx + model.onnx.data  (raw little-endian float32, offsets in the graph)
 * </pre>
 */
final class OnnxFileWriter {
  /** The opset the graphs use; {@link #IR_VERSION} is the IR version that introduced it. */
  static final int OPSET = 17;
  static final long IR_VERSION = 8;
  static final String PRODUCER = "loraone";

  private OnnxFileWriter() {}

  /** What a family contributes: the graph, built into {@code g}, and the model around it. */
  @FunctionalInterface
  interface Graph {
    ModelProto build(OnnxGraphBuilder g) throws IOException;
  }

  /**
   * Writes the graph to {@code onnxFile}, replacing it and any external-data file of an earlier export.
   *
   * @param weightBytes the float32 bytes of the weights the graph will hold ({@link #weightBytes})
   */
  static OnnxExport write(Path onnxFile, String graphName, long weightBytes, long externalDataThreshold, Graph graph)
      throws IOException {
    Path absolute = onnxFile.toAbsolutePath();
    Path dataFile = absolute.resolveSibling(absolute.getFileName() + ".data");
    Path tmp = absolute.resolveSibling(absolute.getFileName() + ".tmp");
    boolean external = weightBytes > externalDataThreshold;
    if (absolute.getParent() != null) Files.createDirectories(absolute.getParent());
    try {
      ModelProto proto;
      OnnxGraphBuilder g;
      try (ExternalDataFile data = external ? new ExternalDataFile(dataFile) : null) {
        g = new OnnxGraphBuilder(graphName, data);
        proto = graph.build(g);
      }
      if (!external) Files.deleteIfExists(dataFile); // a stale side file of an earlier, larger export
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
        proto.writeTo(out);
      }
      Files.move(tmp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return new OnnxExport(absolute, external ? Optional.of(dataFile) : Optional.empty(), Files.size(absolute),
          external ? Files.size(dataFile) : 0, g.initializerBytes(), g.nodeCount(), g.initializerCount());
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      if (external) Files.deleteIfExists(dataFile);
      throw e;
    }
  }

  /** Float32 bytes of a model's exported parameters: every one but the adapters (merged into W). */
  static long weightBytes(Map<String, Parameter> named) {
    long bytes = 0;
    for (Map.Entry<String, Parameter> e : named.entrySet()) {
      if (!e.getKey().contains(".lora_")) bytes += e.getValue().getShape().size() * Float.BYTES;
    }
    return bytes;
  }

  /** The producer version in the model: the jar's implementation version, or {@code dev}. */
  static String producerVersion() {
    String v = OnnxFileWriter.class.getPackage().getImplementationVersion();
    return v != null ? v : "dev";
  }
}
