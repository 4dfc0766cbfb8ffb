package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.io.Input;
import java.io.InputStream;

/**
 * A stream-backed Kryo input that knows how many bytes the stream holds, so that forged lengths
 * are checked against what is really left ({@link WireRecordSerializer#requireAvailable}), as they
 * are for a byte array.
 */
final class SizedInput extends Input {
  private final long length;

  SizedInput(InputStream in, long length) {
    super(in, 64 * 1024);
    this.length = length;
  }

  long remaining() {
    return length - total();
  }
}
