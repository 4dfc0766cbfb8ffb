package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.ModelRefs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The service's uploaded HF model folders, by content ({@link ModelRefs#id}): one folder per distinct
 * set of files under {@code <data>/models}, so the same folder uploaded twice (zipped any way) is
 * stored once and keeps its id. Jobs name them {@code model:<id>}.
 *
 * <pre>
 *   models/&lt;id&gt;/           the folder's files as unpacked ({@link ModelUnpack})
 *   models/&lt;id&gt;.json       {id, files: [{name, sha256, bytes}], bytes, modelType, uploaded}: written last
 *   models/incoming/         uploads still arriving or unpacking (deleted when they fail)
 * </pre>
 */
public final class ModelStore {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One file of a stored model. */
  public record File(String name, String sha256, long bytes) {}

  /** A stored model. */
  public record Entry(String id, List<File> files, long bytes, String modelType, long uploaded) {
    ObjectNode json() {
      ObjectNode o = JSON.createObjectNode().put("id", id);
      ArrayNode a = o.putArray("files");
      files.forEach(f -> a.addObject().put("name", f.name()).put("sha256", f.sha256()).put("bytes", f.bytes()));
      return o.put("bytes", bytes).put("modelType", modelType).put("uploaded", uploaded);
    }
  }

  private final Path root;
  private final Path incoming;

  public ModelStore(Path data) throws IOException {
    this.root = Files.createDirectories(data.resolve("models"));
    this.incoming = Files.createDirectories(root.resolve("incoming"));
  }

  /** A fresh file for an upload to arrive in. */
  Path incoming() throws IOException {
    return Files.createTempFile(incoming, "upload-", ".zip");
  }

  /** A fresh folder to unpack an upload into. */
  Path unpacking() throws IOException {
    return Files.createTempDirectory(incoming, "unpack-");
  }

  /**
   * Keeps the unpacked, checked folder {@code dir} as its model, or drops it when that model is stored
   * already; the entry and whether it is new.
   */
  synchronized Map.Entry<Entry, Boolean> commit(Path dir, ModelUnpack.Unpacked u, String modelType)
      throws IOException {
    String id = ModelRefs.id(u.files());
    Optional<Entry> old = find(id);
    if (old.isPresent()) {
      delete(dir);
      return Map.entry(old.get(), false);
    }
    List<File> files = new ArrayList<>();
    for (var f : u.files().entrySet()) {
      files.add(new File(f.getKey(), f.getValue(), Files.size(dir.resolve(f.getKey()))));
    }
    Entry e = new Entry(id, files, u.bytes(), modelType, System.currentTimeMillis());
    Path target = root.resolve(id);
    if (Files.exists(target)) delete(target); // a folder whose manifest was never written
    Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
    StoreFiles.writeLast(incoming, root.resolve(id + ".json"), e.json().toString());
    return Map.entry(e, true);
  }

  /** The model {@code id}, if stored. */
  public Optional<Entry> find(String id) {
    if (!DatasetRefs.SHA256.matcher(id).matches()) return Optional.empty();
    Path meta = root.resolve(id + ".json");
    if (!Files.isRegularFile(meta) || !Files.isDirectory(root.resolve(id))) return Optional.empty();
    try {
      return Optional.of(JSON.readValue(meta.toFile(), Entry.class));
    } catch (IOException ex) {
      return Optional.empty();
    }
  }

  /** Deletes model {@code id}: its manifest first, so it is no longer listed; false when it was not stored. */
  synchronized boolean remove(String id) throws IOException {
    if (find(id).isEmpty()) return false;
    Files.deleteIfExists(root.resolve(id + ".json"));
    delete(root.resolve(id));
    return true;
  }

  /** Every stored model, by id. */
  public List<Entry> list() throws IOException {
    return StoreFiles.list(root, this::find);
  }


  /** The folder of stored model {@code id}. */
  public Path folder(String id) throws IOException {
    return find(id).map(e -> root.resolve(e.id())).orElseThrow(() -> new NoSuchFileException(ModelRefs.PREFIX + id,
        null, "no such model on this service"));
  }

  /** The file {@code name} of model {@code e}, if it lists one by that name. */
  Optional<Path> file(Entry e, String name) {
    return e.files().stream().filter(f -> f.name().equals(name)).findFirst().map(f -> root.resolve(e.id())
        .resolve(f.name()));
  }

  /** 'job.model' naming a model this service does not hold, as "'job.model' = value: why"; else empty. */
  List<String> problems(JobSpec spec) {
    Optional<String> id;
    try {
      id = ModelRefs.of(spec);
    } catch (IllegalArgumentException e) {
      return List.of(spec.source() + ": " + e.getMessage());
    }
    if (id.isEmpty() || find(id.get()).isPresent()) return List.of();
    return List.of(spec.source() + ": 'job.model' = \"" + ModelRefs.PREFIX + id.get() + "\": no such model on this"
        + " service (POST /models uploads one; GET /models lists them)");
  }

  /** {@code spec} with its model named by the stored folder (for the preflight and the memory estimate). */
  JobSpec local(JobSpec spec) {
    Optional<String> id;
    try {
      id = ModelRefs.of(spec);
    } catch (IllegalArgumentException e) {
      return spec;
    }
    return id.flatMap(this::find).map(e -> DatasetRefs.with(spec, Map.of("model",
        root.resolve(e.id()).toAbsolutePath().toString()))).orElse(spec);
  }

  static void delete(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
    }
  }
}
