package dev.loraone.worker.export;

import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The side file of an ONNX model whose weights live outside the protobuf ("external data", ONNX
 * IR spec, {@code TensorProto.data_location = EXTERNAL}). Needed past protobuf's 2 GiB message
 * limit; written while the graph is built, so no weight is held twice on the heap.
 *
 * <pre>
 *   tensor.external_data = { location: "model.onnx.data", offset: "&lt;bytes&gt;", length: "&lt;bytes&gt;" }
 *   file bytes [offset, offset+length) = the tensor's values, float32 little-endian, row-major
 * </pre>
 *
 * <p>{@code location} is relative to the model file's folder, so the pair can be moved together.
 * Tensors of at least 1 MiB start at a 64 KiB boundary, as {@code onnx.save_model} aligns them,
 * which lets ONNX Runtime memory-map them.
 */
final class ExternalDataFile implements Closeable {

  static final long ALIGN_THRESHOLD_BYTES = 1 << 20; // onnx.external_data_helper align_threshold
  static final int ALIGNMENT_BYTES = 64 * 1024; // its allocation_granularity
  private static final int CHUNK_FLOATS = 1 << 18;

  private final Path file;
  private final String location;
  private final FileChannel channel;
  private final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_FLOATS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private long offset;

  /** Creates (or truncates) {@code file}. */
  ExternalDataFile(Path file) throws IOException {
    this.file = file;
    this.location = file.getFileName().toString();
    this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
  }

  /** Appends {@code data} and points {@code tensor} at it. */
  void write(TensorProto.Builder tensor, float[] data) throws IOException {
    long length = (long) data.length * Float.BYTES;
    if (length >= ALIGN_THRESHOLD_BYTES) {
      padTo(ALIGNMENT_BYTES);
    }
    long start = offset;
    for (int from = 0; from < data.length; from += CHUNK_FLOATS) {
      int n = Math.min(CHUNK_FLOATS, data.length - from);
      chunk.clear();
      chunk.asFloatBuffer().put(data, from, n);
      chunk.limit(n * Float.BYTES);
      writeFully(chunk);
    }
    tensor.setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(entry("location", location))
        .addExternalData(entry("offset", Long.toString(start)))
        .addExternalData(entry("length", Long.toString(length)));
  }

  /** The file written. */
  Path file() {
    return file;
  }

  /** Bytes written so far, padding included. */
  long size() {
    return offset;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  private void padTo(int alignment) throws IOException {
    int pad = (int) ((alignment - offset % alignment) % alignment);
    if (pad > 0) {
      writeFully(ByteBuffer.allocate(pad));
    }
  }

  private void writeFully(ByteBuffer bytes) throws IOException {
    while (bytes.hasRemaining()) {
      offset += channel.write(bytes);
    }
  }

  private static StringStringEntryProto entry(String key, String value) {
    return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
  }
}
