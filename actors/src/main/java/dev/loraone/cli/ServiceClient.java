package dev.loraone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.service.HttpTls;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;
import javax.net.ssl.SSLException;
import picocli.CommandLine.Option;

/**
 * The client side of {@code loraone serve}'s HTTP API, shared by {@code submit}, {@code status},
 * {@code cancel}, {@code logs} and {@code node leave}. A picocli mixin: {@code --server} (default
 * {@code $LORAONE_SERVER}, else {@code http://127.0.0.1:8080}) and {@code --token} (default
 * {@code $LORAONE_TOKEN}), and for an {@code https://} server {@code --trust-store} (default
 * {@code $LORAONE_TRUST_STORE}, else the JVM's default trust). Errors come back as
 * IllegalArgumentException with the server's message; a failed TLS handshake names the URL and the
 * trust store.
 */
final class ServiceClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(
      names = "--server",
      description = "service URL (default: $LORAONE_SERVER or http://127.0.0.1:8080)")
  String server;

  @Option(names = "--token", description = "bearer token (default: $LORAONE_TOKEN)") String token;

  @Option(
      names = "--trust-store",
      paramLabel = "FILE",
      description = "https: PKCS12 store of the certificates to trust (default: $LORAONE_TRUST_STORE, else the"
          + " JVM's default trust)")
  Path trustStore;

  private HttpClient http;

  private Path trust() {
    if (trustStore != null) return trustStore;
    String env = System.getenv("LORAONE_TRUST_STORE");
    return env == null || env.isBlank() ? null : Path.of(env);
  }

  private String base() {
    String s = server != null ? server : System.getenv().getOrDefault("LORAONE_SERVER", "http://127.0.0.1:8080");
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  private HttpRequest.Builder request(String path) {
    if (http == null) {
      http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
          .sslContext(HttpTls.client(trust(), System.getenv())).build();
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path));
    String t = token != null ? token : System.getenv("LORAONE_TOKEN");
    if (t != null && !t.isBlank()) b.header("Authorization", "Bearer " + t);
    return b;
  }

  JsonNode get(String path) {
    return send(request(path).GET().build());
  }

  JsonNode post(String path, String body, String contentType) {
    return send(
        request(path)
            .header("Content-Type", contentType)
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build());
  }

  /** Posts {@code file}'s bytes, streamed from disk. */
  JsonNode upload(String path, Path file) {
    try {
      return send(request(path).header("Content-Type", "application/octet-stream")
          .POST(HttpRequest.BodyPublishers.ofFile(file)).build());
    } catch (java.io.FileNotFoundException e) {
      throw new IllegalArgumentException(file + ": not readable (" + e.getMessage() + ")");
    }
  }

  private JsonNode send(HttpRequest r) {
    HttpResponse<String> res;
    try {
      res = http.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (ConnectException e) {
      throw new IllegalArgumentException(
          "no loraone service at "
              + base()
              + " (start one with `loraone serve`, or give --server URL)");
    } catch (IOException e) {
      throw failed(r.method() + " " + r.uri(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    }
    JsonNode body;
    try {
      body = JSON.readTree(res.body());
    } catch (IOException e) {
      body = JSON.createObjectNode().put("error", res.body());
    }
    if (res.statusCode() >= 400) {
      StringBuilder m =
          new StringBuilder(
              r.method()
                  + " "
                  + r.uri().getPath()
                  + ": "
                  + res.statusCode()
                  + " "
                  + body.path("error").asText());
      body.path("problems").forEach(p -> m.append("\n  ").append(p.asText()));
      throw new IllegalArgumentException(m.toString());
    }
    return body;
  }

  /** An I/O failure of {@code what}: a TLS handshake names the URL and the trust store. */
  private IllegalArgumentException failed(String what, IOException e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof SSLException ssl) {
        return new IllegalArgumentException(HttpTls.handshakeFailed(base(), trust(), ssl));
      }
    }
    String hint = base().startsWith("http://") && !(e instanceof java.net.http.HttpTimeoutException)
        ? " (if the service serves HTTPS, use https://)" : "";
    return new IllegalArgumentException(what + ": " + e.getMessage() + hint);
  }

  /**
   * Reads the job's server-sent events from index {@code from}, handing each event's JSON to
   * {@code each} until the stream ends (the job ended, or with {@code follow} false, the events so far)
   * or {@code each} returns false.
   */
  void events(String id, int from, boolean follow, Predicate<JsonNode> each) {
    HttpRequest r =
        request("/jobs/" + id + "/events?from=" + from + (follow ? "" : "&follow=false"))
            .header("Accept", "text/event-stream")
            .GET()
            .build();
    try {
      HttpResponse<java.io.InputStream> res = http.send(r, HttpResponse.BodyHandlers.ofInputStream());
      if (res.statusCode() >= 400) {
        String text = new String(res.body().readAllBytes(), StandardCharsets.UTF_8);
        throw new IllegalArgumentException(
            "GET /jobs/"
                + id
                + "/events: "
                + res.statusCode()
                + " "
                + JSON.readTree(text).path("error").asText());
      }
      try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          if (!line.startsWith("data:")) continue;
          String data = line.substring(5).trim();
          if (data.isEmpty()) continue;
          if (!each.test(JSON.readTree(data))) return;
        }
      }
    } catch (ConnectException e) {
      throw new IllegalArgumentException(
          "no loraone service at "
              + base()
              + " (start one with `loraone serve`, or give --server URL)");
    } catch (IOException e) {
      throw failed("GET /jobs/" + id + "/events", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
