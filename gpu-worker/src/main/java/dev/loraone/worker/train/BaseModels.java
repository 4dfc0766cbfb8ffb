package dev.loraone.worker.train;

import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The base models this JVM has read, kept for the next job on the same weights: a worker node that
 * runs many jobs of one base model reads and hashes its files once, not once per job.
 *
 * <pre>
 *   key     a jar model's id (minilm, bge-small), or a folder's real path + name:size:mtime of its
 *           config.json, *.safetensors and index files (a changed file is a new key)
 *   value   the HF-named float32 weights (immutable: models copy them) and their SHA-256 (Digests.model)
 *   bound   LRU by the weights' bytes under -Dloraone.model-cache=SIZE (k|m|g suffix; default a
 *           quarter of the max heap; 0 keeps nothing); a model larger than the bound is not kept
 * </pre>
 * Two jobs opening the same key at once read it once (a lock per key); different keys load in
 * parallel. What a job's model does to its own copy (PiSSA's W0 offset, training) never reaches the
 * cached weights.
 */
final class BaseModels {
  /** A BERT-family source (weights, config, tokenizer) and its model hash. */
  record Bert(BertSource source, String hash) {}

  /** A Llama-family folder and its model hash. */
  record Llama(LlamaCheckpoint checkpoint, String hash) {}

  private record Entry(Object value, long bytes) {}

  /**
   * The id a folder's model hash starts with: the same for every folder, so the hash (and the
   * checkpoints it identifies) does not depend on where the folder is, e.g. a worker's cache of an
   * uploaded model ({@code model:<id>}) or the submitter's own copy.
   */
  static final String FOLDER = "hf-folder";

  private static final Map<String, Object> LOCKS = new ConcurrentHashMap<>();
  private static final LinkedHashMap<String, Entry> HELD = new LinkedHashMap<>(16, 0.75f, true);
  private static long heldBytes;

  private BaseModels() {}

  static Bert bert(String model) throws IOException {
    Path dir = Path.of(model);
    String key = Files.isDirectory(dir) ? folderKey(dir) : "jar:" + BertSource.known(model).id();
    return get(key, () -> {
      BertSource s = BertSource.resolve(model);
      String id = Files.isDirectory(dir) ? FOLDER : s.id(); // a folder's hash: its weights, not its path
      return new Entry(new Bert(s, Digests.model(id, s.weights())), bytes(s.weights()));
    }, Bert.class);
  }

  static Llama llama(Path dir) throws IOException {
    return get(folderKey(dir), () -> {
      LlamaCheckpoint c = LlamaCheckpoint.load(dir);
      return new Entry(new Llama(c, Digests.model(FOLDER, c.weights())), bytes(c.weights()));
    }, Llama.class);
  }

  /** The bound in bytes: {@code loraone.model-cache}, else a quarter of the max heap. */
  static long budget() {
    String v = System.getProperty("loraone.model-cache");
    if (v == null || v.isBlank()) return Runtime.getRuntime().maxMemory() / 4;
    String s = v.trim().toLowerCase(Locale.ROOT);
    long unit = switch (s.charAt(s.length() - 1)) {
      case 'k' -> 1L << 10;
      case 'm' -> 1L << 20;
      case 'g' -> 1L << 30;
      default -> 1;
    };
    try {
      return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-Dloraone.model-cache=" + v + ": expected a size such as 512m, 2g or 0");
    }
  }

  /** Bytes held now (for tests and status). */
  static synchronized long heldBytes() {
    return heldBytes;
  }

  /** Drops every kept model. */
  static synchronized void clear() {
    HELD.clear();
    heldBytes = 0;
  }

  @FunctionalInterface
  private interface Loader {
    Entry load() throws IOException;
  }

  private static <T> T get(String key, Loader loader, Class<T> type) throws IOException {
    synchronized (LOCKS.computeIfAbsent(key, k -> new Object())) {
      Entry e = lookup(key);
      if (e == null) {
        e = loader.load();
        keep(key, e);
      }
      return type.cast(e.value());
    }
  }

  private static synchronized Entry lookup(String key) {
    return HELD.get(key);
  }

  private static synchronized void keep(String key, Entry e) {
    long budget = budget();
    if (e.bytes() > budget) return;
    Entry old = HELD.put(key, e);
    heldBytes += e.bytes() - (old == null ? 0 : old.bytes());
    for (Iterator<Map.Entry<String, Entry>> it = HELD.entrySet().iterator(); heldBytes > budget && it.hasNext(); ) {
      Map.Entry<String, Entry> eldest = it.next();
      if (eldest.getKey().equals(key)) continue;
      heldBytes -= eldest.getValue().bytes();
      it.remove();
    }
  }

  private static long bytes(Map<String, FloatTensor> weights) {
    long n = 0;
    for (FloatTensor t : weights.values()) n += 4L * t.data().length;
    return n;
  }

  /** The folder's real path and the name, size and modification time of each file that defines the model. */
  static String folderKey(Path dir) throws IOException {
    StringBuilder key = new StringBuilder("dir:").append(dir.toRealPath());
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        String name = f.getFileName().toString();
        if (Files.isRegularFile(f) && (name.endsWith(".safetensors") || name.endsWith(".json"))) {
          key.append('|').append(name).append(':').append(Files.size(f)).append(':')
              .append(Files.getLastModifiedTime(f).toMillis());
        }
      }
    }
    return key.toString();
  }
}
