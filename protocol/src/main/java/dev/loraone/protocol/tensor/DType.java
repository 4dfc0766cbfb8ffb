package dev.loraone.protocol.tensor;

import java.util.Arrays;
import java.util.stream.Collectors;

/** Element types a {@link TensorBlob} can carry, named as in the safetensors format. */
public enum DType {
  F64(8),
  F32(4),
  F16(2),
  BF16(2),
  I64(8),
  I32(4),
  I16(2),
  I8(1),
  U8(1),
  BOOL(1);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  public int byteSize() {
    return bytes;
  }

  /** Parses a safetensors dtype name; the message lists the allowed names. */
  public static DType parse(String name) {
    for (DType d : values()) {
      if (d.name().equals(name)) return d;
    }
    throw new IllegalArgumentException(
        "unknown dtype \"" + name + "\" (expected one of "
            + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
  }
}
