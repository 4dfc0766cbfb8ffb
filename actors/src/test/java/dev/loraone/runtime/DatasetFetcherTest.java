package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DatasetFetcher} against a stand-in for the service's {@code GET /datasets/{sha}} that can
 * misbehave as a network or a damaged store does (the real route is exercised by DatasetUploadIT):
 * bytes of the wrong hash are refused and leave nothing in the cache, a download that stalls midway
 * resumes with a Range request, and concurrent requests for one dataset download it once.
 */
class DatasetFetcherTest {
  @TempDir Path cache;
  private HttpServer server;
  private final List<String> ranges = new CopyOnWriteArrayList<>();

  private String serve(BiConsumer<HttpExchange, String> handler) throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.createContext("/datasets/", x -> {
      String range = x.getRequestHeaders().getFirst("Range");
      ranges.add(range == null ? "-" : range);
      x.getResponseHeaders().add(DatasetFetcher.FORMAT_HEADER, "jsonl");
      handler.accept(x, range);
    });
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private ServerSocket raw;

  @AfterEach
  void stop() throws IOException {
    if (server != null) server.stop(0);
    if (raw != null) raw.close();
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  private static void send(HttpExchange x, int status, byte[] body, int upTo) {
    try (OutputStream out = x.getResponseBody()) {
      x.sendResponseHeaders(status, body.length);
      out.write(body, 0, upTo);
      out.flush();
    } catch (IOException e) {
      // the client went away
    }
  }

  @Test
  void bytesWithAnotherHashAreRefusedAndNotCached() throws Exception {
    String sha = sha256("the real dataset\n".getBytes(StandardCharsets.UTF_8));
    byte[] other = "{\"text\": \"tampered\", \"label\": \"x\"}\n".getBytes(StandardCharsets.UTF_8);
    String url = serve((x, range) -> send(x, 200, other, other.length));
    DatasetFetcher f = new DatasetFetcher(url, null, null, cache);
    IOException e = assertThrows(IOException.class, () -> f.local(sha));
    assertTrue(e.getMessage().contains("dataset:" + sha) && e.getMessage().contains("arrived with SHA-256 "
        + sha256(other) + ": refused"), e.getMessage());
    try (var files = Files.list(cache.resolve("datasets"))) {
      assertEquals(List.of(), files.toList(), "nothing kept");
    }
  }

  /**
   * A raw HTTP/1.1 server: the first request gets a third of the body and then nothing more (the
   * connection stays open, as a stalled network leaves it); a Range request gets the rest.
   */
  private String stallingServer(byte[] data) throws IOException {
    ServerSocket socket = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
    raw = socket;
    Thread t = new Thread(() -> {
      List<Socket> held = new ArrayList<>();
      try {
        while (true) {
          Socket c = socket.accept();
          BufferedReader in =
              new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.ISO_8859_1));
          String range = null;
          for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("range:")) range = line.substring(6).trim();
          }
          ranges.add(range == null ? "-" : range);
          OutputStream out = c.getOutputStream();
          if (range == null) {
            out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + data.length + "\r\n" + DatasetFetcher.FORMAT_HEADER
                + ": jsonl\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(data, 0, data.length / 3);
            out.flush();
            held.add(c); // and then silence
          } else {
            int from = Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
            out.write(("HTTP/1.1 206 Partial Content\r\nContent-Length: " + (data.length - from) + "\r\nContent-Range:"
                + " bytes " + from + "-" + (data.length - 1) + "/" + data.length + "\r\n" + DatasetFetcher.FORMAT_HEADER
                + ": jsonl\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(data, from, data.length - from);
            out.flush();
            c.close();
          }
        }
      } catch (IOException e) {
        // the test is over
      }
    }, "stalling-server");
    t.setDaemon(true);
    t.start();
    return "http://127.0.0.1:" + socket.getLocalPort();
  }

  @Test
  void aDownloadThatStallsMidwayResumesWithARangeRequest() throws Exception {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 20_000; i++) b.append("{\"text\": \"line ").append(i).append("\", \"label\": \"a\"}\n");
    byte[] data = b.toString().getBytes(StandardCharsets.UTF_8);
    String sha = sha256(data);
    String url = stallingServer(data);
    Path got = new DatasetFetcher(url, null, null, cache, Duration.ofMillis(500)).local(sha);
    assertEquals(sha + ".jsonl", got.getFileName().toString());
    assertArrayEquals(data, Files.readAllBytes(got));
    assertEquals(List.of("-", "bytes=" + data.length / 3 + "-"), ranges, "resumed from the third that had arrived");
  }

  @Test
  void concurrentRequestsForOneDatasetDownloadItOnce() throws Exception {
    byte[] data = "{\"text\": \"a\", \"label\": \"b\"}\n".getBytes(StandardCharsets.UTF_8);
    String sha = sha256(data);
    String url = serve((x, range) -> {
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      send(x, 200, data, data.length);
    });
    DatasetFetcher f = new DatasetFetcher(url, null, null, cache);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Path>> all = new ArrayList<>();
      for (int i = 0; i < 4; i++) all.add(pool.submit(() -> f.local(sha)));
      for (Future<Path> p : all) assertArrayEquals(data, Files.readAllBytes(p.get()));
    } finally {
      pool.shutdown();
    }
    assertEquals(1, ranges.size(), "one download: " + ranges);
    f.local(sha);
    assertEquals(1, ranges.size(), "a cached dataset is not fetched again");
  }

  /** What an operator sets up for a service with HTTPS and tokens: the trust store and a read token. */
  @Test
  void overHttpsWithATokenTheFetchWorksAndWithoutOneItNamesThe401(@TempDir Path tls) throws Exception {
    String password = "fetch-test-password";
    Path keys = TlsStores.keyPair(tls, "service", password, "-ext", "SAN=ip:127.0.0.1");
    Path trust = TlsStores.trustStore(tls, "trust", password, List.of(keys), password);
    byte[] data = "{\"text\": \"a\", \"label\": \"b\"}\n".getBytes(StandardCharsets.UTF_8);
    String sha = sha256(data);
    HttpsServer https = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    https.setHttpsConfigurator(new HttpsConfigurator(
        dev.loraone.service.HttpTls.server(keys, null, null, Map.of(dev.loraone.service.HttpTls.PASSWORD_ENV,
            password))));
    https.createContext("/datasets/", x -> {
      x.getResponseHeaders().add(DatasetFetcher.FORMAT_HEADER, "jsonl");
      boolean reader = "Bearer reader-token-0123456789".equals(x.getRequestHeaders().getFirst("Authorization"));
      byte[] body = reader ? data : "{\"error\": \"this request needs Authorization: Bearer <token>\"}"
          .getBytes(StandardCharsets.UTF_8);
      send(x, reader ? 200 : 401, body, body.length);
    });
    https.start();
    server = https;
    String url = "https://127.0.0.1:" + https.getAddress().getPort();
    javax.net.ssl.SSLContext trusting = dev.loraone.service.HttpTls.client(trust,
        Map.of(dev.loraone.service.HttpTls.TRUST_PASSWORD_ENV, password));
    IOException e = assertThrows(IOException.class,
        () -> new DatasetFetcher(url, null, trusting, cache.resolve("a")).local(sha));
    assertTrue(e.getMessage().contains("401") && e.getMessage().contains("Bearer"), e.getMessage());
    Path got = new DatasetFetcher(url, "reader-token-0123456789", trusting, cache.resolve("b")).local(sha);
    assertArrayEquals(data, Files.readAllBytes(got));
  }
}
