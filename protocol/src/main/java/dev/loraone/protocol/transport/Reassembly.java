package dev.loraone.protocol.transport;

import dev.loraone.protocol.tensor.TensorBlob;
import java.io.InputStream;
import java.util.zip.CRC32C;

/**
 * The receiver's store for one transfer: chunks are kept as they arrive, in any order, once
 * each, and read back in order as one stream. Free of actors, so the rules (bounds, lengths,
 * duplicates, checksum) are tested directly. Chunks stay separate arrays, so a large payload
 * never needs one contiguous (humongous) array before it is deserialized.
 */
final class Reassembly {
  private final long totalBytes;
  private final int chunkBytes;
  private final int chunkCount;
  private final byte[][] parts;
  private int receivedCount;

  Reassembly(long totalBytes, int chunkBytes) {
    if (totalBytes < 0 || chunkBytes < 1) {
      throw new IllegalArgumentException("cannot reassemble " + totalBytes + " bytes in chunks of " + chunkBytes);
    }
    this.totalBytes = totalBytes;
    this.chunkBytes = chunkBytes;
    this.chunkCount = TransferMessage.TransferStart.chunkCount(totalBytes, chunkBytes);
    this.parts = new byte[chunkCount][];
  }

  /** Bytes chunk {@code index} must hold: {@code chunkBytes}, except the last one. */
  int expectedLength(int index) {
    return index == chunkCount - 1 ? (int) (totalBytes - (long) chunkBytes * (chunkCount - 1)) : chunkBytes;
  }

  /**
   * Stores a chunk; false if it was already stored (a resend whose ack was lost).
   *
   * @throws IllegalArgumentException for an index out of range or a payload of the wrong length
   */
  boolean accept(int index, TensorBlob payload) {
    if (index < 0 || index >= chunkCount) {
      throw new IllegalArgumentException("chunk index " + index + " outside [0, " + chunkCount + ")");
    }
    int expected = expectedLength(index);
    if (payload.byteSize() != expected) {
      throw new IllegalArgumentException(
          "chunk " + index + " holds " + payload.byteSize() + " bytes, expected " + expected);
    }
    if (parts[index] != null) return false;
    parts[index] = payload.bytes();
    receivedCount++;
    return true;
  }

  boolean complete() {
    return receivedCount == chunkCount;
  }

  int chunkCount() {
    return chunkCount;
  }

  long totalBytes() {
    return totalBytes;
  }

  /** CRC-32C of the payload; call once {@link #complete()}. */
  int crc32c() {
    CRC32C crc = new CRC32C();
    for (byte[] p : parts) crc.update(p, 0, p.length);
    return (int) crc.getValue();
  }

  /** The payload as one stream over the chunks, without copying them together. */
  InputStream stream() {
    if (!complete()) throw new IllegalStateException(receivedCount + " of " + chunkCount + " chunks received");
    return new InputStream() {
      private int part;
      private int offset;

      @Override
      public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (len == 0) return 0;
        while (part < parts.length && offset == parts[part].length) {
          part++;
          offset = 0;
        }
        if (part == parts.length) return -1;
        int n = Math.min(len, parts[part].length - offset);
        System.arraycopy(parts[part], offset, b, off, n);
        offset += n;
        return n;
      }
    };
  }
}
