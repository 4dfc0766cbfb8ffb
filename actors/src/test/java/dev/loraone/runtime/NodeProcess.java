package dev.loraone.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@code loraone node} in its own JVM, started from the packaged {@code target/loraone.jar} as a
 * user starts one. A coordinator's {@code --json} events are collected from its stdout; stderr goes
 * to a log file next to the test's output, named in every assertion message.
 */
final class NodeProcess implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path JAR = Path.of("target", "loraone.jar").toAbsolutePath();

  final String name;
  final int port;
  final Path log;
  private final Process process;
  private final List<JsonNode> events = new CopyOnWriteArrayList<>();

  private NodeProcess(String name, int port, Path log, Process process) {
    this.name = name;
    this.port = port;
    this.log = log;
    this.process = process;
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                  if (line.startsWith("{")) events.add(JSON.readTree(line));
                }
              } catch (IOException e) {
                // the process is gone; what was read stays
              }
            },
            name + "-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * More options for {@code loraone node} and environment variables for its JVM (e.g. TLS stores
   * and their passwords).
   */
  record Extra(List<String> args, Map<String, String> env) {
    static final Extra NONE = new Extra(List.of(), Map.of());
  }

  static NodeProcess coordinator(Path dir, int port, List<Integer> seeds, Path jobFile, Path out) throws IOException {
    return coordinator(dir, port, seeds, jobFile, out, Extra.NONE);
  }

  static NodeProcess coordinator(
      Path dir, int port, List<Integer> seeds, Path jobFile, Path out, Extra extra)
      throws IOException {
    return start(
        "coordinator-" + port,
        dir,
        port,
        seeds,
        List.of(
            "--role",
            "coordinator",
            "--job",
            jobFile.toString(),
            "--out",
            out.toString(),
            "--json"),
        extra);
  }

  static NodeProcess worker(Path dir, String id, int port, List<Integer> seeds) throws IOException {
    return worker(dir, id, port, seeds, Extra.NONE);
  }

  static NodeProcess worker(Path dir, String id, int port, List<Integer> seeds, Extra extra) throws IOException {
    return start(id, dir, port, seeds, List.of("--role", "worker", "--id", id), extra);
  }

  private static NodeProcess start(String name, Path dir, int port, List<Integer> seeds, List<String> args, Extra extra)
      throws IOException {
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
                // down a killed node quickly, so its work is reassigned within seconds
                "-Dpekko.cluster.split-brain-resolver.stable-after=3s",
                "-jar",
                JAR.toString(),
                "node",
                "--port",
                Integer.toString(port),
                "--seed-nodes",
                String.join(",", seeds.stream().map(p -> "127.0.0.1:" + p).toList())));
    cmd.addAll(args);
    cmd.addAll(extra.args());
    Path log = dir.resolve(name + "-" + System.nanoTime() + ".log");
    ProcessBuilder builder = new ProcessBuilder(cmd).redirectError(log.toFile());
    builder.environment().putAll(extra.env());
    Process p = builder.start();
    return new NodeProcess(name, port, log, p);
  }

  /** The first event satisfying {@code p}, waiting up to {@code timeout}; fails with the events and the log's tail. */
  JsonNode await(String what, Predicate<JsonNode> p, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (JsonNode e : events) if (p.test(e)) return e;
      if (!process.isAlive() && events.stream().noneMatch(p)) {
        Thread.sleep(200); // let the reader drain the pipe
        for (JsonNode e : events) if (p.test(e)) return e;
        throw new AssertionError(name + " exited (" + process.exitValue() + ") before " + what + "; " + describe());
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no " + what + " within " + timeout + "; " + describe());
  }

  /**
   * The first line of the node's log (stderr) containing {@code text}, waiting up to {@code
   * timeout}; fails with the log's tail.
   */
  String awaitLog(String text, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    do {
      for (String line : logLines()) if (line.contains(text)) return line;
      Thread.sleep(200);
    } while (System.nanoTime() < end);
    throw new AssertionError("no log line with '" + text + "' within " + timeout + "; " + describe());
  }

  List<String> logLines() {
    try {
      return Files.readAllLines(log);
    } catch (IOException e) {
      return List.of();
    }
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** The exit code, waiting up to {@code timeout}; fails with the log's tail when it still runs. */
  int exitCode(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
      throw new AssertionError(name + " still runs after " + timeout + "; " + describe());
    return process.exitValue();
  }

  List<JsonNode> events() {
    return List.copyOf(events);
  }

  static Predicate<JsonNode> event(String type) {
    return e -> e.path("event").asText().equals(type);
  }

  /** The job's end: Finished or Failed. */
  JsonNode end(Duration timeout) throws InterruptedException {
    return await("the job's end", e -> event("Finished").test(e) || event("Failed").test(e), timeout);
  }

  /** SIGKILL: no shutdown hook, no cluster leave, nothing flushed. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  String describe() {
    String tail;
    try {
      List<String> lines = Files.readAllLines(log);
      tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      tail = "(no log: " + e + ")";
    }
    return "events " + events + "\nlog " + log + ":\n" + tail;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (!process.isAlive()) return;
    process.destroy(); // SIGTERM: CoordinatedShutdown leaves the cluster
    if (!process.waitFor(30, TimeUnit.SECONDS)) kill();
  }
}
