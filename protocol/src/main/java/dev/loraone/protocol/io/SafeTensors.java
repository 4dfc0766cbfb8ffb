package dev.loraone.protocol.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reader and writer for the Hugging Face safetensors format.
 *
 * <p>Layout: an 8-byte little-endian header length {@code N}, a UTF-8 JSON header of {@code N}
 * bytes mapping each tensor name to {@code {dtype, shape, data_offsets:[begin,end]}} (offsets
 * relative to the end of the header) plus an optional {@code __metadata__} string map, then the
 * tensor bytes. Written files are byte-for-byte deterministic (names sorted, header padded with
 * spaces to a multiple of 8), so their SHA-256 identifies the content; the determinism tests of
 * the pipeline rely on that. Files are written to a temporary sibling and renamed into place.
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "__metadata__";
  /** Guards against reading a huge "header" from a file that is not safetensors at all. */
  private static final long MAX_HEADER_BYTES = 100L << 20;

  private SafeTensors() {}

  /** The content of a file: tensors in file order and the string metadata. */
  public record Contents(Map<String, TensorBlob> tensors, Map<String, String> metadata) {}

  public static void write(Path file, Map<String, TensorBlob> tensors, Map<String, String> metadata)
      throws IOException {
    SortedMap<String, TensorBlob> sorted = new TreeMap<>(tensors);
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = header.putObject(METADATA);
      new TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, TensorBlob> e : sorted.entrySet()) {
      if (e.getKey().equals(METADATA)) throw new IllegalArgumentException("tensor name " + METADATA + " is reserved");
      TensorBlob t = e.getValue();
      ObjectNode entry = header.putObject(e.getKey());
      entry.put("dtype", t.dtype().name());
      ArrayNode shape = entry.putArray("shape");
      for (long d : t.shape()) shape.add(d);
      entry.putArray("data_offsets").add(offset).add(offset + t.byteSize());
      offset += t.byteSize();
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    byte[] head = new byte[padded];
    System.arraycopy(json, 0, head, 0, json.length);
    for (int i = json.length; i < padded; i++) head[i] = ' ';

    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.TRUNCATE_EXISTING)) {
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
        out.write(head);
        for (TensorBlob t : sorted.values()) out.write(t.bytes());
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Reads a whole file. Every problem is reported with the file name and the tensor it concerns. */
  public static Contents read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Header h = header(file, ch);
      Map<String, TensorBlob> tensors = new LinkedHashMap<>();
      for (Entry e : h.entries().values()) {
        ByteBuffer buf = ByteBuffer.allocate((int) e.length());
        readFully(ch, buf, e.offset());
        tensors.put(e.name(), new TensorBlob(e.dtype(), e.shape(), buf.array()));
      }
      return new Contents(tensors, h.metadata());
    }
  }

  /**
   * Where one tensor lies in a file, as {@link #entries} checked it.
   *
   * @param offset absolute byte offset of its data in the file
   * @param length its bytes: numel x the dtype's size
   */
  public record Entry(String name, DType dtype, long[] shape, long offset, long length) {
    public Entry {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }
  }

  /**
   * The tensors of a file, in file order, checked as {@link #read} checks them, without reading their
   * data: a large checkpoint is then read one tensor at a time ({@link #floats}).
   */
  public static Map<String, Entry> entries(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return header(file, ch).entries();
    }
  }

  /** Bytes of a tensor read at a time by {@link #floats(Path, Entry)} (a multiple of every element size). */
  static final int CHUNK = 8 << 20;

  /**
   * Tensor {@code e} of {@code file} as float32 (widened or narrowed from F32, F64, F16, BF16), read in
   * chunks of {@link #CHUNK} bytes: no copy of the file or of the tensor's raw bytes on the heap, and no
   * mapping either (a mapped tensor's pages count as the process's memory until the collector happens
   * to unmap it: half a gigabyte for a 1B model's bf16 embedding), so loading holds the float32 weights
   * plus one chunk.
   */
  public static float[] floats(Path file, Entry e) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      if (e.offset() + e.length() > ch.size()) {
        throw bad(file, "tensor \"" + e.name() + "\" ends at byte " + (e.offset() + e.length()) + " of a "
            + ch.size() + "-byte file");
      }
      int n = Math.toIntExact(TensorBlob.numel(e.shape()));
      int size = e.dtype().byteSize();
      float[] out = new float[n];
      ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(e.length(), size)));
      for (int done = 0; done < n; ) {
        int count = Math.min(n - done, chunk.capacity() / size);
        chunk.clear().limit(count * size);
        readFully(ch, chunk, e.offset() + (long) done * size);
        TensorBlob.floats(chunk.flip(), e.dtype(), out, done, count);
        done += count;
      }
      return out;
    }
  }

  private record Header(Map<String, Entry> entries, Map<String, String> metadata) {}

  private static Header header(Path file, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size < 8) throw bad(file, "file has " + size + " bytes, fewer than the 8-byte header length");
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0);
    long n = lenBuf.flip().getLong();
    if (n <= 0 || n > MAX_HEADER_BYTES || 8 + n > size) {
      throw bad(file, "header length " + n + " is not in [1, min(" + MAX_HEADER_BYTES + ", file size - 8 = "
          + (size - 8) + ")]");
    }
    ByteBuffer headBuf = ByteBuffer.allocate((int) n);
    readFully(ch, headBuf, 8);
    JsonNode header;
    try {
      header = JSON.readTree(new String(headBuf.array(), StandardCharsets.UTF_8));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw bad(file, "header is not valid JSON: " + e.getOriginalMessage());
    }
    if (header == null || !header.isObject()) throw bad(file, "header is not a JSON object");
    long dataStart = 8 + n;
    long dataLen = size - dataStart;
    Map<String, Entry> entries = new LinkedHashMap<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals(METADATA)) {
        e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        continue;
      }
      entries.put(e.getKey(), entry(file, e.getKey(), e.getValue(), dataStart, dataLen));
    }
    return new Header(entries, metadata);
  }

  private static Entry entry(Path file, String name, JsonNode spec, long dataStart, long dataLen) throws IOException {
    JsonNode dt = spec.get("dtype");
    JsonNode sh = spec.get("shape");
    JsonNode off = spec.get("data_offsets");
    if (dt == null || sh == null || off == null || !sh.isArray() || !off.isArray() || off.size() != 2) {
      throw bad(file, "tensor \"" + name + "\": expected {dtype, shape:[...], data_offsets:[begin,end]}, got " + spec);
    }
    DType dtype;
    try {
      dtype = DType.parse(dt.asText());
    } catch (IllegalArgumentException ex) {
      throw bad(file, "tensor \"" + name + "\": " + ex.getMessage());
    }
    long[] shape = new long[sh.size()];
    for (int i = 0; i < shape.length; i++) shape[i] = sh.get(i).asLong(-1);
    long begin = off.get(0).asLong(-1);
    long end = off.get(1).asLong(-1);
    if (begin < 0 || end < begin || end > dataLen) {
      throw bad(
          file,
          "tensor \""
              + name
              + "\": data_offsets ["
              + begin
              + ", "
              + end
              + "] outside the data section of "
              + dataLen
              + " bytes");
    }
    long expected;
    try {
      expected = TensorBlob.numel(shape) * dtype.byteSize();
    } catch (IllegalArgumentException | ArithmeticException ex) {
      throw bad(file, "tensor \"" + name + "\": invalid shape " + sh);
    }
    if (expected != end - begin) {
      throw bad(
          file,
          "tensor \""
              + name
              + "\": shape "
              + sh
              + " of "
              + dtype
              + " needs "
              + expected
              + " bytes, offsets give "
              + (end - begin));
    }
    if (expected > Integer.MAX_VALUE - 8) {
      throw bad(file, "tensor \"" + name + "\" has " + expected + " bytes, more than one Java array can hold");
    }
    return new Entry(name, dtype, shape, dataStart + begin, expected);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos + buf.position());
      if (r < 0) throw new IOException("unexpected end of file");
    }
  }

  private static IOException bad(Path file, String what) {
    return new SafeTensorsFormatException(file + ": " + what);
  }

  /** A file that is not valid safetensors; the message names the file and the offending tensor. */
  public static final class SafeTensorsFormatException extends IOException {
    public SafeTensorsFormatException(String message) {
      super(message);
    }
  }
}
