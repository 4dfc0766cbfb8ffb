package dev.loraone.protocol.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path dir;

  private static Map<String, TensorBlob> sample() {
    Map<String, TensorBlob> m = new LinkedHashMap<>();
    m.put("z.weight", TensorBlob.ofFloats(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, -6.5f}));
    m.put("a.bias", TensorBlob.ofFloats(new long[] {3}, new float[] {0.25f, -0f, Float.MIN_VALUE}));
    m.put(
        "ids",
        new TensorBlob(
            DType.I64,
            new long[] {2},
            ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(7).putLong(-1).array()));
    return m;
  }

  @Test
  void writeThenReadReturnsTheSameTensorsAndMetadata() throws IOException {
    Path f = dir.resolve("m.safetensors");
    SafeTensors.write(f, sample(), Map.of("format", "pt"));
    SafeTensors.Contents c = SafeTensors.read(f);
    assertEquals(sample(), c.tensors());
    assertEquals(Map.of("format", "pt"), c.metadata());
  }

  /** A tensor read one chunk at a time: larger than a chunk and not a multiple of it, in each float dtype. */
  @Test
  void tensorsReadInChunksEqualTheWholeReadForEveryFloatDtype() throws IOException {
    int n = SafeTensors.CHUNK / 2 + 12_345; // F64: 4+ chunks, F32: 2+, F16 and BF16: 1+
    java.util.SplittableRandom rng = new java.util.SplittableRandom(4);
    Map<String, TensorBlob> tensors = new LinkedHashMap<>();
    for (DType d : new DType[] {DType.F64, DType.F32, DType.F16, DType.BF16}) {
      ByteBuffer b = ByteBuffer.allocate(n * d.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        switch (d) {
          case F64 -> b.putDouble(rng.nextGaussian());
          case F32 -> b.putFloat((float) rng.nextGaussian());
          default -> b.putShort((short) rng.nextInt(0x7c00)); // finite halves and bf16s
        }
      }
      tensors.put("t." + d, new TensorBlob(d, new long[] {n}, b.array()));
    }
    tensors.put("empty", TensorBlob.ofFloats(new long[] {0}, new float[0]));
    Path f = dir.resolve("big.safetensors");
    SafeTensors.write(f, tensors, Map.of());
    Map<String, SafeTensors.Entry> entries = SafeTensors.entries(f);
    for (Map.Entry<String, TensorBlob> t : tensors.entrySet()) {
      assertArrayEquals(t.getValue().toFloats(), SafeTensors.floats(f, entries.get(t.getKey())), t.getKey());
    }
  }

  @Test
  void writtenBytesDoNotDependOnInsertionOrder() throws IOException {
    Path f1 = dir.resolve("1.safetensors");
    Path f2 = dir.resolve("2.safetensors");
    SafeTensors.write(f1, sample(), Map.of());
    Map<String, TensorBlob> reversed = new LinkedHashMap<>();
    reverse(new java.util.ArrayList<>(sample().keySet())).forEach(k -> reversed.put(k, sample().get(k)));
    SafeTensors.write(f2, reversed, Map.of());
    assertArrayEquals(Files.readAllBytes(f1), Files.readAllBytes(f2));
  }

  @Test
  void headerFollowsTheSpecLayout() throws IOException {
    Path f = dir.resolve("m.safetensors");
    SafeTensors.write(f, sample(), Map.of());
    byte[] all = Files.readAllBytes(f);
    long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "header padded to 8 bytes");
    String header = new String(all, 8, (int) n, StandardCharsets.UTF_8).strip();
    assertTrue(header.startsWith("{\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}"), header);
    assertEquals(8 + n + 12 + 24 + 16, all.length);
  }

  @Test
  void truncatedFileIsRejectedNamingFileAndTensor() throws IOException {
    Path f = dir.resolve("m.safetensors");
    SafeTensors.write(f, sample(), Map.of());
    byte[] all = Files.readAllBytes(f);
    Path cut = dir.resolve("cut.safetensors");
    Files.write(cut, java.util.Arrays.copyOf(all, all.length - 4));
    IOException e = assertThrows(IOException.class, () -> SafeTensors.read(cut));
    assertTrue(e.getMessage().contains("cut.safetensors") && e.getMessage().contains("z.weight"), e.getMessage());
  }

  @Test
  void garbageIsRejectedWithTheHeaderLengthNamed() throws IOException {
    Path f = dir.resolve("junk.safetensors");
    Files.writeString(f, "this is not a safetensors file at all");
    IOException e = assertThrows(IOException.class, () -> SafeTensors.read(f));
    assertTrue(e.getMessage().contains("junk.safetensors") && e.getMessage().contains("header length"), e.getMessage());
  }

  @Test
  void unknownDtypeIsRejectedListingTheAllowedOnes() throws IOException {
    Path f = dir.resolve("q.safetensors");
    byte[] head = "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}".getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + head.length + 1).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(head.length).put(head).put((byte) 0);
    Files.write(f, b.array());
    IOException e = assertThrows(IOException.class, () -> SafeTensors.read(f));
    assertTrue(
        e.getMessage().contains("\"w\"")
            && e.getMessage().contains("Q4")
            && e.getMessage().contains("BF16"),
        e.getMessage());
  }

  private static <T> java.util.List<T> reverse(java.util.List<T> xs) {
    java.util.Collections.reverse(xs);
    return xs;
  }
}
