package dev.loraone.worker.export;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What an ONNX export wrote.
 *
 * @param model the {@code .onnx} file
 * @param externalData the side file holding the weights, when they did not fit in the protobuf
 * @param modelBytes size of {@code model}
 * @param externalDataBytes size of {@code externalData}, 0 without one
 * @param weightBytes float32 bytes of all initializers, wherever they are stored
 * @param nodes graph nodes
 * @param initializers graph initializers (the weights)
 */
public record OnnxExport(Path model, Optional<Path> externalData, long modelBytes, long externalDataBytes,
    long weightBytes, int nodes, int initializers) {}
