package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.nio.ByteBuffer;

/**
 * {@link TensorBlob} on the wire: dtype name, rank, dimensions, byte count, little-endian bytes.
 * The dtype travels by name so the enum's order is free; lengths are checked against the bytes
 * actually present before anything is allocated, so a forged header cannot force a huge array.
 */
final class TensorBlobSerializer extends Serializer<TensorBlob> {
  static final int MAX_RANK = 16;
  private static final int BLOCK = 64 * 1024;

  TensorBlobSerializer() {
    super(false, true);
  }

  @Override
  public void write(Kryo kryo, Output output, TensorBlob blob) {
    output.writeString(blob.dtype().name());
    long[] shape = blob.shape();
    output.writeVarInt(shape.length, true);
    for (long d : shape) output.writeVarLong(d, true);
    output.writeVarInt(blob.byteSize(), true);
    ByteBuffer data = blob.buffer(); // read-only view: copy out in blocks rather than cloning the whole tensor
    byte[] block = new byte[Math.min(BLOCK, blob.byteSize())];
    while (data.hasRemaining()) {
      int n = Math.min(block.length, data.remaining());
      data.get(block, 0, n);
      output.writeBytes(block, 0, n);
    }
  }

  @Override
  public TensorBlob read(Kryo kryo, Input input, Class<? extends TensorBlob> type) {
    DType dtype;
    try {
      dtype = DType.parse(input.readString());
    } catch (IllegalArgumentException e) {
      throw new KryoException(e.getMessage(), e);
    }
    int rank = input.readVarInt(true);
    if (rank < 0 || rank > MAX_RANK) throw new KryoException("tensor rank " + rank + " outside [0, " + MAX_RANK + "]");
    long[] shape = new long[rank];
    for (int i = 0; i < rank; i++) shape[i] = input.readVarLong(true);
    int n = input.readVarInt(true);
    WireRecordSerializer.requireAvailable(input, n, "tensor bytes");
    byte[] data = input.readBytes(n);
    try {
      return new TensorBlob(dtype, shape, data);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new KryoException("invalid tensor: " + e.getMessage(), e);
    }
  }
}
