package dev.loraone.protocol.transport;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReassemblyTest {
  private static TensorBlob bytes(byte[] b, int from, int to) {
    return new TensorBlob(DType.U8, new long[] {to - from}, Arrays.copyOfRange(b, from, to));
  }

  @Test
  void chunksInAnyOrderRebuildThePayloadAndDuplicatesAreStoredOnce() throws IOException {
    byte[] payload = "0123456789".getBytes(StandardCharsets.US_ASCII);
    Reassembly r = new Reassembly(10, 4);
    assertEquals(3, r.chunkCount());
    assertEquals(2, r.expectedLength(2));
    assertTrue(r.accept(2, bytes(payload, 8, 10)));
    assertTrue(r.accept(0, bytes(payload, 0, 4)));
    assertFalse(r.accept(0, bytes(payload, 0, 4)));
    assertFalse(r.complete());
    assertTrue(r.accept(1, bytes(payload, 4, 8)));
    assertTrue(r.complete());
    assertArrayEquals(payload, r.stream().readAllBytes());
  }

  @Test
  void wrongLengthsAndIndicesAreRefused() {
    byte[] payload = new byte[10];
    Reassembly r = new Reassembly(10, 4);
    assertThrows(IllegalArgumentException.class, () -> r.accept(3, bytes(payload, 0, 4)));
    assertThrows(IllegalArgumentException.class, () -> r.accept(-1, bytes(payload, 0, 4)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.accept(2, bytes(payload, 0, 4)));
    assertTrue(e.getMessage().contains("expected 2"), e.getMessage());
  }

  @Test
  void anEmptyPayloadIsOneEmptyChunk() throws IOException {
    Reassembly r = new Reassembly(0, 4);
    assertEquals(1, r.chunkCount());
    assertTrue(r.accept(0, bytes(new byte[0], 0, 0)));
    assertTrue(r.complete());
    assertEquals(-1, r.stream().read());
  }

  @Test
  void crc32cOverTheChunksMatchesTheStandardCheckValueAndTheSendersStream() {
    // RFC 3720 (iSCSI) check value of CRC-32C over "123456789".
    byte[] payload = "123456789".getBytes(StandardCharsets.US_ASCII);
    Reassembly r = new Reassembly(9, 4);
    for (int i = 0; i < 3; i++) r.accept(i, bytes(payload, 4 * i, Math.min(9, 4 * i + 4)));
    assertEquals(0xE3069283, r.crc32c());

    ChunkingOutputStream out = new ChunkingOutputStream(4);
    out.write(payload, 0, 5);
    out.write(payload, 5, 4);
    out.close();
    assertEquals(0xE3069283, out.crc32c());
    assertEquals(9, out.total());
    assertEquals(3, out.chunks().size());
    assertArrayEquals(Arrays.copyOfRange(payload, 8, 9), out.chunks().get(2));
  }

  @Test
  void anEmptyStreamIsOneEmptyChunk() {
    ChunkingOutputStream out = new ChunkingOutputStream(4);
    out.close();
    assertEquals(1, out.chunks().size());
    assertEquals(0, out.chunks().get(0).length);
  }
}
