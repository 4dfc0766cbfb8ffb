package dev.loraone.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A random checkpoint of a real size written as users have them: sharded bf16 safetensors with
 * {@code model.safetensors.index.json}, streamed one tensor at a time (a 1B model is never held in
 * memory), a Llama 3.x config ({@code rope_scaling} of type llama3 for {@link RandomLlama.Shape#llama32x1b})
 * and {@link RandomLlama}'s word-level tokenizer.
 */
public final class ShardedRandomLlama {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ShardedRandomLlama() {}

  /** Writes {@code s} into {@code dir} in {@code shards} bf16 files of about equal size. */
  public static void write(Path dir, RandomLlama.Shape s, int shards, long seed) throws IOException {
    Files.createDirectories(dir);
    ObjectNode config = RandomLlama.configJson(s);
    if (s.equals(RandomLlama.Shape.llama32x1b())) { // meta-llama/Llama-3.2-1B config.json
      config.put("rope_theta", 500000.0);
      config.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 32.0).put("low_freq_factor", 1.0)
          .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
    }
    config.put("torch_dtype", "bfloat16");
    Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
    Map<String, long[]> shapes = new TreeMap<>(s.config().tensorShapes());
    long total = shapes.values().stream().mapToLong(ShardedRandomLlama::numel).sum() * 2;
    List<Map<String, long[]>> files = new ArrayList<>();
    Map<String, long[]> current = new LinkedHashMap<>();
    long size = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      current.put(e.getKey(), e.getValue());
      size += numel(e.getValue()) * 2;
      if (size >= total / shards && files.size() < shards - 1) {
        files.add(current);
        current = new LinkedHashMap<>();
        size = 0;
      }
    }
    if (!current.isEmpty()) files.add(current);
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < files.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, files.size());
      writeShard(dir.resolve(name), files.get(i), r);
      for (String t : files.get(i).keySet()) map.put(t, name);
    }
    Files.writeString(dir.resolve("model.safetensors.index.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
    Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(RandomLlama.tokenizerJson(s.vocab())));
  }

  private static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }

  /** One safetensors file: the header, then each tensor's bf16 values generated and written in turn. */
  private static void writeShard(Path file, Map<String, long[]> tensors, SplittableRandom r) throws IOException {
    ObjectNode header = JSON.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (Map.Entry<String, long[]> e : tensors.entrySet()) {
      ObjectNode entry = header.putObject(e.getKey());
      entry.put("dtype", "BF16");
      ArrayNode shape = entry.putArray("shape");
      for (long d : e.getValue()) shape.add(d);
      long bytes = numel(e.getValue()) * 2;
      entry.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
      out.write(json);
      for (int i = json.length; i < padded; i++) out.write(' ');
      ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      for (Map.Entry<String, long[]> e : tensors.entrySet()) {
        boolean norm = e.getKey().endsWith("norm.weight");
        for (long k = numel(e.getValue()); k > 0; k--) {
          float v = norm ? 1f : (float) (0.02 * r.nextGaussian());
          buf.putShort((short) (Float.floatToRawIntBits(v) >>> 16)); // bf16: the float32's upper half
          if (!buf.hasRemaining()) {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
          }
        }
      }
      out.write(buf.array(), 0, buf.position());
    }
  }
}
