package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.loraone.worker.model.Owned;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The frozen base models this JVM holds on its device, shared read-only by every job on the same
 * weights: a worker node that runs many jobs of one base model reads, hashes and uploads its files
 * once, and each job's model points its base parameters at the shared arrays, with its own adapters
 * and head ({@code BertLoraModel.fromShared}, {@code LlamaLoraModel.fromShared}).
 *
 * <pre>
 *   key     a jar model's id (minilm, bge-small), or a folder's real path + name:size:mtime of its
 *           config.json, *.safetensors and index files (a changed file is a new key), + the device
 *   value   the HF-named float32 weights as NDArrays of a manager this cache owns (no job's), the
 *           source's config and tokenizer, and the weights' SHA-256 (Digests.model)
 *   lease   a job holds its base through a {@link Lease} from open to close: a leased model is never
 *           closed; the last release of a model over the bound closes it
 *   bound   LRU by the weights' bytes under -Dloraone.model-cache=SIZE (k|m|g suffix; default a
 *           quarter of the max heap; 0 keeps nothing once released); models in use count, and are
 *           evicted only once released
 * </pre>
 * A Llama folder is read one tensor at a time (in chunks, not mapped) into the device array,
 * hashed in the same read; the heap never holds the whole model. Two jobs opening the same key at
 * once read it once (a lock per key); different keys load in parallel. No job writes a shared array:
 * PiSSA's and LoRA-GA's W0 offsets and merges go to a job's own copy of the touched matrices
 * ({@code LoraLinear.ownWeight}), the one-step gradient to a detached view that only this job marks
 * for autograd ({@code LoraLinear.beginWeightGradient}).
 */
final class BaseModels {

  /**
   * A job's hold on a shared base model; {@link #close()} releases it (once).
   *
   * @param <T> the source's description: a {@link BertSource} or a {@link LlamaCheckpoint}, both without
   *     weights (they are in {@link #arrays()})
   */
  static final class Lease<T> implements AutoCloseable {
    private final Entry entry;
    private final T source;
    private boolean closed;

    private Lease(Entry entry, T source) {
      this.entry = entry;
      this.source = source;
    }

    T source() {
      return source;
    }

    String hash() {
      return entry.hash;
    }

    /** The shared arrays by HF name: read-only, attached to the cache's manager. */
    Map<String, NDArray> arrays() {
      return entry.arrays;
    }

    @Override
    public synchronized void close() {
      if (!closed) {
        closed = true;
        release(entry);
      }
    }
  }

  private static final class Entry {
    final String key;
    final Object source;
    final String hash;
    final NDManager manager;
    final Map<String, NDArray> arrays;
    final long bytes;
    int refs;

    Entry(String key, Object source, String hash, NDManager manager, Map<String, NDArray> arrays, long bytes) {
      this.key = key;
      this.source = source;
      this.hash = hash;
      this.manager = manager;
      this.arrays = Collections.unmodifiableMap(arrays);
      this.bytes = bytes;
    }
  }

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

  /** The BERT-family base {@code model} (a jar model's name or a folder) on {@code device}. */
  static Lease<BertSource> bert(String model, Device device) throws IOException {
    Path dir = Path.of(model);
    String key = (Files.isDirectory(dir) ? folderKey(dir) : "jar:" + BertSource.known(model).id()) + "@" + device;
    return lease(key, BertSource.class, () -> {
      BertSource s = BertSource.resolve(model);
      // a folder's hash: its weights, not its path
      Digests.ModelDigest md = new Digests.ModelDigest(Files.isDirectory(dir) ? FOLDER : s.id());
      NDManager manager = NDManager.newBaseManager(device, "PyTorch");
      try {
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        long bytes = 0;
        for (Map.Entry<String, FloatTensor> e : new TreeMap<>(s.weights()).entrySet()) {
          md.add(e.getKey(), e.getValue());
          arrays.put(e.getKey(), upload(manager, e.getValue()));
          bytes += 4L * e.getValue().data().length;
        }
        BertSource light = new BertSource(s.id(), s.config(), Map.of(), s.tokenizer());
        return new Entry(key, light, md.hex(), manager, arrays, bytes);
      } catch (RuntimeException e) {
        manager.close();
        throw e;
      }
    });
  }

  /** The Llama-family folder {@code dir} on {@code device}, read one tensor at a time. */
  static Lease<LlamaCheckpoint> llama(Path dir, Device device) throws IOException {
    String key = folderKey(dir) + "@" + device;
    return lease(key, LlamaCheckpoint.class, () -> {
      LlamaCheckpoint.Checked c = LlamaCheckpoint.check(dir);
      Digests.ModelDigest md = new Digests.ModelDigest(FOLDER);
      NDManager manager = NDManager.newBaseManager(device, "PyTorch");
      try {
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        long bytes = 0;
        for (String name : new TreeSet<>(c.tensors().keySet())) { // name order: the digest's
          FloatTensor t = c.read(name);
          md.add(name, t);
          arrays.put(name, upload(manager, t));
          bytes += 4L * t.data().length;
        }
        LlamaCheckpoint light = new LlamaCheckpoint(dir, c.config(), Map.of(), c.tokenizerJson());
        return new Entry(key, light, md.hex(), manager, arrays, bytes);
      } catch (RuntimeException e) {
        manager.close();
        throw e;
      }
    });
  }

  /** A libtorch-owned copy of {@code t} in {@code manager}. */
  private static NDArray upload(NDManager manager, FloatTensor t) {
    return Owned.copy(manager.create(t.data(), new Shape(t.shape())));
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

  /** Bytes held now, leased or not (for tests and status). */
  static synchronized long heldBytes() {
    return heldBytes;
  }

  /** Leases held now over all models (for tests). */
  static synchronized int leases() {
    return HELD.values().stream().mapToInt(e -> e.refs).sum();
  }

  /** Closes every model no job holds; leased ones stay until released. */
  static synchronized void clear() {
    evict(0);
  }

  @FunctionalInterface
  private interface Loader {
    Entry load() throws IOException;
  }

  private static <T> Lease<T> lease(String key, Class<T> type, Loader loader) throws IOException {
    budget(); // a bad -Dloraone.model-cache fails before anything is read
    synchronized (LOCKS.computeIfAbsent(key, k -> new Object())) {
      Entry e = acquire(key);
      if (e == null) {
        e = loader.load();
        keep(e);
      }
      return new Lease<>(e, type.cast(e.source));
    }
  }

  private static synchronized Entry acquire(String key) {
    Entry e = HELD.get(key);
    if (e != null) e.refs++;
    return e;
  }

  private static synchronized void keep(Entry e) {
    e.refs = 1;
    HELD.put(e.key, e);
    heldBytes += e.bytes;
    evict(budget());
  }

  private static synchronized void release(Entry e) {
    if (e.refs <= 0) throw new IllegalStateException("base model " + e.key + " released more often than leased");
    e.refs--;
    evict(budget());
  }

  /** Closes unleased models, least recently used first, until the held bytes fit {@code budget}. */
  private static void evict(long budget) {
    List<Entry> gone = new ArrayList<>();
    for (Entry e : HELD.values()) {
      if (heldBytes - gone.stream().mapToLong(g -> g.bytes).sum() <= budget) break;
      if (e.refs == 0) gone.add(e);
    }
    for (Entry e : gone) {
      HELD.remove(e.key);
      heldBytes -= e.bytes;
      e.manager.close();
    }
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
