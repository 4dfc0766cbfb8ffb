package dev.loraone.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;

/**
 * One verified, resumable download from the service ({@link DatasetFetcher}, {@link ModelFetcher}):
 * {@code GET base+path} streamed into a {@code .part} file; an interrupted download resumes from the
 * bytes it has with {@code Range: bytes=N-}; the whole file's SHA-256 must be the expected one (a
 * resumed file whose hash is wrong is fetched once more from the start before it is refused); a read
 * that receives nothing for {@code stall} is cut off and resumed the same way.
 */
final class HttpDownload {
  private final String base;
  private final String token;
  private final SSLContext tls;
  private final Duration stall;

  HttpDownload(String server, String token, SSLContext tls, Duration stall) {
    this.base = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    this.token = token == null || token.isBlank() ? null : token;
    this.tls = tls;
    this.stall = stall;
  }

  String base() {
    return base;
  }

  /**
   * Fetches {@code path} ({@code what}, for messages) into {@code part} until its SHA-256 is {@code sha} (null: any);
   * the value of the reply's {@code header}, which must be one of {@code allowed} (null header: none
   * asked for, null returned).
   */
  String fetch(String what, String path, Path part, String sha, String header, List<String> allowed)
      throws IOException {
    IOException last = null;
    String value = null;
    for (int attempt = 0; attempt < 4; attempt++) {
      long from = Files.isRegularFile(part) ? Files.size(part) : 0;
      try {
        value = download(path, part, from, header, allowed);
      } catch (Interrupted e) {
        last = e.cause; // resumed from what arrived
        continue;
      }
      if (sha == null) return value; // verified by the caller (a manifest, by the hash of what it lists)
      String got = sha256(part);
      if (got.equals(sha)) return value;
      Files.delete(part);
      last = new IOException(what + " from " + base + " arrived with SHA-256 " + got + ": refused");
      if (from == 0) throw last; // a whole download with the wrong hash: the service's copy is not that content
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

  /** Appends the bytes from {@code from} on to {@code part}; the header's value. */
  private String download(String path, Path part, long from, String header, List<String> allowed)
      throws IOException, Interrupted {
    String url = base + path;
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
      String value = header == null ? null : Optional.ofNullable(c.getHeaderField(header)).orElse("");
      if (header != null && !allowed.contains(value)) {
        throw new IOException("GET " + url + ": expected a " + header + " header of " + allowed + ", got '" + value
            + "'");
      }
      boolean append = status == 206;
      try (InputStream in = c.getInputStream(); OutputStream out = Files.newOutputStream(part,
          StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
        in.transferTo(out);
      } catch (IOException e) {
        throw new Interrupted(e);
      }
      return value;
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
