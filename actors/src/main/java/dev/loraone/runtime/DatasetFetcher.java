package dev.loraone.runtime;

import dev.loraone.protocol.job.DatasetRefs;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.HttpsURLConnection;
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

  private final String base;
  private final String token;
  private final SSLContext tls;
  private final Path dir;
  private final Duration stall;
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
    this.stall = stall;
    this.base = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    this.token = token == null || token.isBlank() ? null : token;
    this.tls = tls;
    this.dir = Files.createDirectories(cache.resolve("datasets"));
  }

  @Override
  public Path local(String sha) throws IOException {
    if (!DatasetRefs.SHA256.matcher(sha).matches()) throw new IllegalArgumentException("not a SHA-256: " + sha);
    Optional<Path> have = cached(sha);
    if (have.isPresent()) return have.get();
    CompletableFuture<Path> mine = new CompletableFuture<>();
    CompletableFuture<Path> running = inFlight.putIfAbsent(sha, mine);
    if (running == null) {
      try {
        mine.complete(fetch(sha));
      } catch (IOException | RuntimeException e) {
        mine.completeExceptionally(e);
      } finally {
        inFlight.remove(sha, mine);
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

  /** The cached file of {@code sha}, if this node has it (only verified files get their final name). */
  public Optional<Path> cached(String sha) {
    return EXTENSIONS.stream().map(e -> dir.resolve(sha + "." + e)).filter(Files::isRegularFile).findFirst();
  }

  private Path fetch(String sha) throws IOException {
    Path part = dir.resolve(sha + ".part");
    IOException last = null;
    for (int attempt = 0; attempt < 4; attempt++) {
      long from = Files.isRegularFile(part) ? Files.size(part) : 0;
      String format;
      try {
        format = download(sha, part, from);
      } catch (Interrupted e) {
        last = e.cause; // resumed from what arrived
        continue;
      }
      String got = sha256(part);
      if (got.equals(sha)) {
        Path done = dir.resolve(sha + "." + format);
        return Files.move(part, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      }
      Files.delete(part);
      last = new IOException("dataset:" + sha + " from " + base + " arrived with SHA-256 " + got + ": refused");
      if (from == 0) throw last; // a whole download with the wrong hash: the service's copy is not that dataset
    }
    throw last;
  }

  /** A download that broke off: {@link #fetch} resumes it. */
  private static final class Interrupted extends Exception {
    final IOException cause;

    Interrupted(IOException cause) {
      this.cause = cause;
    }
  }

  /** Appends the bytes from {@code from} on to {@code part}; the dataset's format. */
  private String download(String sha, Path part, long from) throws IOException, Interrupted {
    String url = base + "/datasets/" + sha;
    HttpURLConnection c;
    int status;
    try {
      c = (HttpURLConnection) URI.create(url).toURL().openConnection();
      if (tls != null && c instanceof HttpsURLConnection s) s.setSSLSocketFactory(tls.getSocketFactory());
      c.setConnectTimeout(10_000);
      c.setReadTimeout((int) Math.min(Integer.MAX_VALUE, stall.toMillis())); // a stalled read ends, and resumes
      if (token != null) c.setRequestProperty("Authorization", "Bearer " + token);
      if (from > 0) c.setRequestProperty("Range", "bytes=" + from + "-");
      status = c.getResponseCode();
    } catch (IOException e) {
      throw new IOException("GET " + url + ": " + e.getMessage(), e);
    }
    try {
      if (status == 416) { // what we have is not a prefix the service can continue: start over
        Files.deleteIfExists(part);
        throw new Interrupted(new IOException("GET " + url + ": 416 for bytes from " + from));
      }
      if (status != 200 && status != 206) {
        InputStream err = c.getErrorStream();
        String body = err == null ? "" : new String(err.readNBytes(2000), StandardCharsets.UTF_8);
        throw new IOException("GET " + url + ": " + status + " " + body);
      }
      String format = Optional.ofNullable(c.getHeaderField(FORMAT_HEADER)).orElse("");
      if (!EXTENSIONS.contains(format)) {
        throw new IOException("GET " + url + ": expected a " + FORMAT_HEADER + " header of " + EXTENSIONS
            + ", got '" + format + "'");
      }
      boolean append = status == 206;
      try (InputStream in = c.getInputStream(); OutputStream out = Files.newOutputStream(part,
          StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
        in.transferTo(out);
      } catch (IOException e) {
        throw new Interrupted(e);
      }
      return format;
    } finally {
      c.disconnect();
    }
  }

  static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
