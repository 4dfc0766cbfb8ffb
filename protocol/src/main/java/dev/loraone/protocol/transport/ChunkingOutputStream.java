package dev.loraone.protocol.transport;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Collects a serialized payload as chunks of exactly {@code chunkSize} bytes (the last one
 * shorter) and its CRC-32C, so a large message never needs one contiguous array on the sender.
 * An empty payload is one empty chunk.
 */
final class ChunkingOutputStream extends OutputStream {
  private final int chunkSize;
  private final List<byte[]> chunks = new ArrayList<>();
  private final CRC32C crc = new CRC32C();
  private byte[] current;
  private int position;
  private long total;
  private boolean closed;

  ChunkingOutputStream(int chunkSize) {
    this.chunkSize = chunkSize;
    this.current = new byte[chunkSize];
  }

  @Override
  public void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    if (closed) throw new IllegalStateException("closed");
    while (len > 0) {
      int n = Math.min(len, chunkSize - position);
      System.arraycopy(b, off, current, position, n);
      position += n;
      off += n;
      len -= n;
      total += n;
      if (position == chunkSize) seal();
    }
  }

  private void seal() {
    byte[] chunk = position == chunkSize ? current : Arrays.copyOf(current, position);
    crc.update(chunk, 0, chunk.length);
    chunks.add(chunk);
    current = new byte[chunkSize];
    position = 0;
  }

  @Override
  public void close() {
    if (closed) return;
    if (position > 0 || chunks.isEmpty()) seal();
    current = null;
    closed = true;
  }

  /** The chunks, in order; call after {@link #close()}. */
  List<byte[]> chunks() {
    if (!closed) throw new IllegalStateException("close first");
    return chunks;
  }

  long total() {
    return total;
  }

  int crc32c() {
    return (int) crc.getValue();
  }
}
