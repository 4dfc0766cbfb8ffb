package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.runtime.DatasetSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The service's uploaded datasets, by content: one file per distinct content under {@code
 * <data>/datasets}, named by its SHA-256, so the same bytes uploaded twice are stored once and keep
 * their id. Jobs name them {@code dataset:<sha>} ({@link DatasetRefs}).
 *
 * <pre>
 *   datasets/&lt;sha&gt;.&lt;ext&gt;   the bytes as uploaded (ext: jsonl | csv | tsv | txt: the readers' format)
 *   datasets/&lt;sha&gt;.json    {id, bytes, rows, format, uploaded}: written last, so a listed dataset is complete
 *   datasets/incoming/       uploads still arriving (deleted when they fail)
 * </pre>
 */
public final class DatasetStore implements DatasetSource {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The upload formats and the extension each is stored with. */
  static final Map<String, String> FORMATS = Map.of("jsonl", "jsonl", "csv", "csv", "tsv", "tsv", "text", "txt");

  /** A stored dataset; {@code format} is one of {@link #FORMATS}' keys. */
  public record Entry(String id, long bytes, long rows, String format, long uploaded) {
    ObjectNode json() {
      return JSON.createObjectNode().put("id", id).put("bytes", bytes).put("rows", rows).put("format", format)
          .put("uploaded", uploaded);
    }

    String extension() {
      return FORMATS.get(format);
    }
  }

  /** The same content was stored before in another format: its id cannot name both. */
  static final class FormatConflict extends Exception {
    FormatConflict(String message) {
      super(message);
    }
  }

  private final Path root;
  private final Path incoming;

  public DatasetStore(Path data) throws IOException {
    this.root = Files.createDirectories(data.resolve("datasets"));
    this.incoming = Files.createDirectories(root.resolve("incoming"));
  }

  /** A fresh file for an upload to arrive in. */
  Path incoming() throws IOException {
    return Files.createTempFile(incoming, "upload-", ".part");
  }

  /**
   * Keeps {@code arrived} (checked: {@code rows} records of {@code format}) as dataset {@code sha}, or
   * drops it when that content is stored already; the entry and whether it is new.
   */
  synchronized Map.Entry<Entry, Boolean> commit(Path arrived, String sha, long bytes, long rows, String format)
      throws IOException, FormatConflict {
    Optional<Entry> old = find(sha);
    if (old.isPresent()) {
      Files.deleteIfExists(arrived);
      if (!old.get().format().equals(format)) {
        throw new FormatConflict("this content is stored already as dataset " + sha + " in format "
            + old.get().format() + ", not " + format + " (its id names one format)");
      }
      return Map.entry(old.get(), false);
    }
    Entry e = new Entry(sha, bytes, rows, format, System.currentTimeMillis());
    Files.move(arrived, root.resolve(sha + "." + e.extension()), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
    StoreFiles.writeLast(incoming, root.resolve(sha + ".json"), e.json().toString());
    return Map.entry(e, true);
  }

  /** The dataset {@code sha}, if stored. */
  public Optional<Entry> find(String sha) {
    if (!DatasetRefs.SHA256.matcher(sha).matches()) return Optional.empty();
    Path meta = root.resolve(sha + ".json");
    if (!Files.isRegularFile(meta)) return Optional.empty();
    try {
      Entry e = JSON.readValue(meta.toFile(), Entry.class);
      return Files.isRegularFile(file(e)) ? Optional.of(e) : Optional.empty();
    } catch (IOException ex) {
      return Optional.empty();
    }
  }

  /** Deletes dataset {@code sha}: its manifest first, so it is no longer listed; false when it was not stored. */
  synchronized boolean delete(String sha) throws IOException {
    Optional<Entry> e = find(sha);
    if (e.isEmpty()) return false;
    Files.deleteIfExists(root.resolve(sha + ".json"));
    Files.deleteIfExists(file(e.get()));
    return true;
  }

  /** Every stored dataset, by id. */
  public List<Entry> list() throws IOException {
    return StoreFiles.list(root, this::find);
  }


  /** The file of a stored dataset. */
  Path file(Entry e) {
    return root.resolve(e.id() + "." + e.extension());
  }

  @Override
  public Path local(String sha) throws IOException {
    return find(sha).map(this::file).orElseThrow(() -> new NoSuchFileException("dataset:" + sha,
        null, "no such dataset on this service"));
  }
}
