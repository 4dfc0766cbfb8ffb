package dev.loraone.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.job.ModelRefs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A worker node's cache of uploaded model folders ({@code model:<id>}), filled over HTTP from the
 * service with {@link DatasetFetcher}'s machinery ({@link HttpDownload}: resumable, verified):
 *
 * <pre>
 *   GET /models/{id}          the manifest {id, files: [{name, sha256, bytes}], ...}: its files must hash to the id
 *   GET /models/{id}/{name}   each file, into &lt;cache&gt;/models/&lt;id&gt;.part/&lt;name&gt;.part, its SHA-256
 *                             checked
 *   all arrived               the folder renamed atomically to &lt;cache&gt;/models/&lt;id&gt; (only verified folders
 *                             get that name; a file that arrived whole keeps its place for a retry)
 * </pre>
 */
final class ModelFetcher {
  /** A file name the service may serve: segments of [A-Za-z0-9._-], none starting with a dot. */
  static final Pattern NAME = Pattern.compile(
      "[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,199})*");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpDownload http;
  private final Path dir;

  ModelFetcher(HttpDownload http, Path cache) throws IOException {
    this.http = http;
    this.dir = Files.createDirectories(cache.resolve("models"));
  }

  /** The cached folder of model {@code id}, if this node has it. */
  Optional<Path> cached(String id) {
    Path p = dir.resolve(id);
    return Files.isDirectory(p) ? Optional.of(p) : Optional.empty();
  }

  /** Fetches model {@code id} into the cache; its folder. */
  Path fetch(String id) throws IOException {
    Path part = Files.createDirectories(dir.resolve(id + ".part"));
    Path manifest = part.resolve("manifest.json.part");
    Files.deleteIfExists(manifest);
    http.fetch("the manifest of model:" + id, "/models/" + id, manifest, null, null, null);
    JsonNode m = JSON.readTree(manifest.toFile());
    Files.delete(manifest);
    Map<String, String> files = new LinkedHashMap<>();
    for (JsonNode f : m.path("files")) {
      String name = f.path("name").asText();
      String sha = f.path("sha256").asText();
      if (!NAME.matcher(name).matches() || name.endsWith(".part")) {
        throw new IOException("model:" + id + " from " + http.base() + ": its manifest names a file '" + name
            + "': expected a plain file name");
      }
      files.put(name, sha);
    }
    String got = ModelRefs.id(files);
    if (files.isEmpty() || !got.equals(id)) {
      throw new IOException("model:" + id + " from " + http.base() + ": its manifest's files hash to " + got
          + ": refused");
    }
    for (var f : files.entrySet()) {
      Path done = part.resolve(f.getKey());
      if (Files.isRegularFile(done) && HttpDownload.sha256(done).equals(f.getValue())) continue;
      Path file = part.resolve(f.getKey() + ".part");
      Files.createDirectories(file.getParent());
      http.fetch("model:" + id + " file " + f.getKey(), "/models/" + id + "/" + f.getKey(), file, f.getValue(),
          null, null);
      Files.move(file, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    try (Stream<Path> left = Files.walk(part)) { // nothing but the manifest's files
      for (Path p : left.filter(Files::isRegularFile).toList()) {
        if (!files.containsKey(part.relativize(p).toString().replace('\\', '/'))) Files.delete(p);
      }
    }
    try {
      return Files.move(part, dir.resolve(id), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      if (cached(id).isEmpty()) throw e;
      delete(part); // another process of this node got there first
      return dir.resolve(id);
    }
  }

  private static void delete(Path p) throws IOException {
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
    }
  }
}
