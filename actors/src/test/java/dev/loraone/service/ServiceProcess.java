package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@code loraone serve} in its own JVM, started from the packaged {@code target/loraone.jar} as a
 * user starts it (HTTP on a free port, printed on its stdout), with a small HTTP client for the
 * tests. Its stderr goes to a log file that every failure message quotes.
 */
final class ServiceProcess implements AutoCloseable {
  static final Path JAR = Path.of("target", "loraone.jar").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  final String url;
  final Path log;
  final int clusterPort;
  private final Process process;
  String token;
  /** The tests' client; {@link #trusting} swaps in one for an HTTPS service. */
  private HttpClient http = HTTP;

  private ServiceProcess(String url, Path log, int clusterPort, Process process) {
    this.url = url;
    this.log = log;
    this.clusterPort = clusterPort;
    this.process = process;
  }

  /** The java command line of a packaged loraone JVM: {@code java <jvm> -jar loraone.jar <args>}. */
  static List<String> java(List<String> jvm, List<String> args) {
    if (!Files.isRegularFile(JAR))
      throw new IllegalStateException(JAR + " is missing: the ITs run after `mvn package`");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1536m",
                "-Djava.awt.headless=true",
                "-Dai.djl.offline=true",
                "-DDJL_CACHE_DIR=" + System.getenv().getOrDefault("DJL_CACHE_DIR", ""),
                "-Dpekko.cluster.split-brain-resolver.stable-after=3s"));
    cmd.addAll(jvm);
    cmd.add("-jar");
    cmd.add(JAR.toString());
    cmd.addAll(args);
    return cmd;
  }

  /**
   * Starts {@code loraone serve --port 0 --data data --cluster-port P <args>} and waits until it
   * listens.
   */
  static ServiceProcess start(Path logDir, Path data, int clusterPort, List<String> args)
      throws IOException, InterruptedException {
    return start(logDir, data, clusterPort, args, java.util.Map.of());
  }

  /** As {@link #start(Path, Path, int, List)}, with {@code env} added to the service's environment. */
  static ServiceProcess start(Path logDir, Path data, int clusterPort, List<String> args,
      java.util.Map<String, String> env) throws IOException, InterruptedException {
    List<String> a =
        new ArrayList<>(
            List.of(
                "serve",
                "--port",
                "0",
                "--data",
                data.toString(),
                "--cluster-port",
                Integer.toString(clusterPort)));
    a.addAll(args);
    if (!args.contains("--data-root")) a.addAll(List.of("--data-root", logDir.toString())); // the test's files
    if (!args.contains("--model-root")) a.addAll(List.of("--model-root", logDir.toString()));
    Path log = logDir.resolve("service-" + System.nanoTime() + ".log");
    ProcessBuilder pb = new ProcessBuilder(java(List.of(), a)).redirectError(log.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine(); // the service prints its URL once it listens
    if (first == null || !first.startsWith("http://") && !first.startsWith("https://")) {
      p.waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("loraone serve did not start: " + first + "\n" + tail(log));
    }
    return new ServiceProcess(first.trim(), log, clusterPort, p);
  }

  /** Uses a client trusting {@code tls} (an HTTPS service's certificate) from now on. */
  ServiceProcess trusting(javax.net.ssl.SSLContext tls) {
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).sslContext(tls).build();
    return this;
  }

  record Response(int status, JsonNode body) {}

  Response get(String path) throws IOException, InterruptedException {
    return send(HttpRequest.newBuilder(URI.create(url + path)).GET());
  }

  Response post(String path, String body) throws IOException, InterruptedException {
    return send(HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/hocon")
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)));
  }

  Response delete(String path) throws IOException, InterruptedException {
    return send(HttpRequest.newBuilder(URI.create(url + path)).DELETE());
  }

  /** A response's body as text (artefacts, SSE, Prometheus). */
  record Text(int status, String body) {}

  Text getText(String path) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).GET();
    if (token != null) b.header("Authorization", "Bearer " + token);
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    return new Text(r.statusCode(), r.body());
  }

  /**
   * The job's events so far: the {@code data:} lines of {@code GET /jobs/{id}/events?follow=false}
   * (server-sent events).
   */
  List<JsonNode> events(String id) throws IOException, InterruptedException {
    Text t = getText("/jobs/" + id + "/events?follow=false");
    if (t.status() != 200) throw new AssertionError("GET /jobs/" + id + "/events: " + t.status() + " " + t.body());
    List<JsonNode> out = new ArrayList<>();
    for (String line : t.body().split("\n")) {
      if (line.startsWith("data:")) out.add(JSON.readTree(line.substring("data:".length())));
    }
    return out;
  }

  private Response send(HttpRequest.Builder b) throws IOException, InterruptedException {
    if (token != null) b.header("Authorization", "Bearer " + token);
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode body;
    try {
      body = r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
    } catch (IOException e) {
      body = JSON.getNodeFactory().textNode(r.body());
    }
    return new Response(r.statusCode(), body);
  }

  /** Polls {@code GET /jobs/{id}} until {@code p} holds; fails with the job and the log's tail. */
  JsonNode awaitJob(String id, Predicate<JsonNode> p, Duration timeout) throws IOException, InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    while (System.nanoTime() < end) {
      Response r = get("/jobs/" + id);
      last = r.body();
      if (r.status() == 200 && p.test(last)) return last;
      if (!process.isAlive())
        throw new AssertionError(
            "the service exited (" + process.exitValue() + "); job " + last + "\n" + tail(log));
      Thread.sleep(200);
    }
    throw new AssertionError("job " + id + " did not get there within " + timeout + ": " + last + "\n" + tail(log));
  }

  /** Waits for the job to end (SUCCEEDED, FAILED or CANCELLED). */
  JsonNode awaitEnd(String id, Duration timeout) throws IOException, InterruptedException {
    return awaitJob(id, j -> List.of("SUCCEEDED", "FAILED", "CANCELLED").contains(j.path("state").asText()), timeout);
  }

  boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  String describe() {
    return "service " + url + ", log " + log + ":\n" + tail(log);
  }

  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** A tiny real job: MiniLM on WordNet at 4 examples per class, rank 4 on query and value. */
  static String tinyJob(String name, int steps, boolean onnx) {
    return """
        job {
          name = %s
          lora { rank = 4, targets = "query,value" }
          init { batch = 4, iters = 2, shards = 2 }
          optimizer { lr = 1e-3, warmup = 1 }
          train { steps = %d, batch = 8, micro-batch = 8, max-length = 32 }
          eval { every = 0, examples = 32 }
          data.max-per-class = 4
          checkpoint.every = 2
          export.onnx = %s
        }
        """.formatted(name, steps, onnx);
  }

  @Override
  public void close() throws InterruptedException {
    if (!process.isAlive()) return;
    process.destroy(); // SIGTERM: running jobs checkpoint and stay RUNNING in the store
    if (!process.waitFor(60, TimeUnit.SECONDS)) kill();
  }

  /** A worker node joining this service's cluster from {@code cwd}, fetching uploads from its HTTP port. */
  Process workerNode(String id, Path cwd, Path log) throws IOException {
    return new ProcessBuilder(java(List.of(), List.of("node", "--role", "worker", "--id", id, "--port",
        Integer.toString(freePort()), "--seed-nodes", "127.0.0.1:" + clusterPort, "--server", url)))
        .directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** {@code loraone submit --detach JOB} run in {@code cwd}: what it printed (it must exit 0 within a minute). */
  String submit(Path cwd, String jobFile) throws Exception {
    Process submit = new ProcessBuilder(java(List.of(), List.of("submit", "--detach", "--server", url, jobFile)))
        .directory(cwd.toFile()).redirectErrorStream(true).start();
    String said = new String(submit.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!submit.waitFor(60, TimeUnit.SECONDS) || submit.exitValue() != 0) {
      throw new AssertionError("loraone submit: " + said);
    }
    return said;
  }
}
