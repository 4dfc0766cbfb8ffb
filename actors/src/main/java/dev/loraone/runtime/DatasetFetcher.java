package dev.loraone.runtime;

import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.ModelRefs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;

/**
 * A worker node's cache of uploaded datasets, filled over HTTP from the service: {@code GET
 * /datasets/{sha}} streamed into {@code <cache>/datasets/<sha>.part}, its SHA-256 checked on arrival,
 * then renamed atomically to {@code <sha>.<ext>} (the extension, from the reply's {@code
 * X-Loraone-Format}, tells the readers the format). An interrupted download resumes from the bytes it
 * has with {@code Range: bytes=N-}; a resumed file whose hash is wrong is fetched once more from the
 * start before it is refused; a download that receives nothing for a minute is cut off and resumed the
 * same way. Concurrent requests for one dataset share one download.
 *
 * <p>Why HTTP and not Pekko StreamRefs over the cluster: the service's HTTP port already streams
 * files with range support and back-pressure (TCP), already has TLS ({@code --http-tls-key-store})
 * and scoped tokens, and {@code curl} or {@code loraone} can read the same URL; StreamRefs would add
 * wire types to the cluster protocol (Kryo registry, protocol version) and could not resume after the
 * cluster link drops. What an operator configures on a worker node: {@code --server URL} (the
 * service's HTTP address as the workers reach it), a token with scope read ({@code LORAONE_TOKEN}),
 * and for HTTPS the trust store ({@code --trust-store} or {@code LORAONE_TRUST_STORE}).
 */
public final class DatasetFetcher implements DatasetSource {
  /** The reply header naming a dataset's format: jsonl, csv, tsv or txt (the cached file's extension). */
  public static final String FORMAT_HEADER = "X-Loraone-Format";
  static final List<String> EXTENSIONS = List.of("jsonl", "csv", "tsv", "txt");

  private final HttpDownload http;
  private final Path dir;
  private final ModelFetcher models;
  private final ConcurrentHashMap<String, CompletableFuture<Path>> inFlight = new ConcurrentHashMap<>();

  /**
   * @param server the service's HTTP address, e.g. {@code https://loraone:8080}
   * @param token a bearer token with scope read; null when the service has none
   * @param tls trust for an {@code https://} server; null for the JVM's default
   * @param cache this node's cache folder; datasets go to its {@code datasets/}
   */
  public DatasetFetcher(String server, String token, SSLContext tls, Path cache) throws IOException {
    this(server, token, tls, cache, Duration.ofSeconds(60));
  }

  /** As above; a download that receives nothing for {@code stall} is cut off and resumed. */
  DatasetFetcher(String server, String token, SSLContext tls, Path cache, Duration stall) throws IOException {
    this.http = new HttpDownload(server, token, tls, stall);
    this.dir = Files.createDirectories(cache.resolve("datasets"));
    this.models = new ModelFetcher(http, cache);
  }

  @Override
  public Path local(String sha) throws IOException {
    if (!DatasetRefs.SHA256.matcher(sha).matches()) throw new IllegalArgumentException("not a SHA-256: " + sha);
    Optional<Path> have = cached(sha);
    return have.isPresent() ? have.get() : once(sha, () -> fetch(sha));
  }

  /** A fetch that may throw I/O errors. */
  @FunctionalInterface
  private interface Fetch {
    Path get() throws IOException;
  }

  /** Runs {@code fetch}, unless one for {@code key} is running: then waits for that one's result. */
  private Path once(String key, Fetch fetch) throws IOException {
    CompletableFuture<Path> mine = new CompletableFuture<>();
    CompletableFuture<Path> running = inFlight.putIfAbsent(key, mine);
    if (running == null) {
      try {
        mine.complete(fetch.get());
      } catch (IOException | RuntimeException e) {
        mine.completeExceptionally(e);
      } finally {
        inFlight.remove(key, mine);
      }
      running = mine;
    }
    try {
      return running.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IOException io) throw io;
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  @Override
  public Path model(String id) throws IOException {
    if (!DatasetRefs.SHA256.matcher(id).matches()) throw new IllegalArgumentException("not a model id: " + id);
    Optional<Path> have = models.cached(id);
    return have.isPresent() ? have.get() : once(ModelRefs.PREFIX + id, () -> models.fetch(id));
  }

  /** The cached file of {@code sha}, if this node has it (only verified files get their final name). */
  public Optional<Path> cached(String sha) {
    return EXTENSIONS.stream().map(e -> dir.resolve(sha + "." + e)).filter(Files::isRegularFile).findFirst();
  }

  private Path fetch(String sha) throws IOException {
    Path part = dir.resolve(sha + ".part");
    String format = http.fetch("dataset:" + sha, "/datasets/" + sha, part, sha, FORMAT_HEADER, EXTENSIONS);
    return Files.move(part, dir.resolve(sha + "." + format), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }
}
