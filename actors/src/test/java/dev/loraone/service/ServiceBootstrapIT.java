package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-node cluster formed through Cluster Bootstrap with config discovery and no seed list: a service
 * and two worker nodes, each in its own JVM, list the same three management endpoints
 * ({@code --discovery config --contact-points}); {@code /ready} answers 200 on every node only once it
 * is an Up member, and a job submitted to the service runs on the two worker nodes to success.
 */
class ServiceBootstrapIT {
  @TempDir static Path dir;

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  /** Bootstrap tuned for a test (production values: loraone-node.conf). */
  private static final List<String> FAST_BOOTSTRAP = List.of(
      "-Dpekko.management.cluster.bootstrap.contact-point-discovery.stable-margin=1s",
      "-Dpekko.management.cluster.bootstrap.contact-point-discovery.interval=500ms",
      "-Dpekko.management.cluster.bootstrap.contact-point.probe-interval=500ms");

  @Test
  void threeNodesFormAClusterWithoutSeedNodesAndRunAJob() throws Exception {
    int[] management = {ServiceProcess.freePort(), ServiceProcess.freePort(), ServiceProcess.freePort()};
    String contacts = java.util.Arrays.stream(management).mapToObj(p -> "127.0.0.1:" + p)
        .collect(Collectors.joining(","));
    long t0 = System.nanoTime();
    List<Process> workers = new ArrayList<>();
    try (ServiceProcess service = ServiceProcess.start(dir, dir.resolve("data"), ServiceProcess.freePort(),
        List.of("--workers", "0", "--discovery", "config", "--management-port", Integer.toString(management[0]),
            "--contact-points", contacts),
        Map.of("JAVA_TOOL_OPTIONS", String.join(" ", FAST_BOOTSTRAP)))) {
      // the service alone cannot start the cluster: every listed contact point must answer first
      int alone = status(management[0], "/ready", Duration.ofSeconds(30));
      assertNotEquals(200, alone, "/ready of a service that is no cluster member yet");
      assertEquals(200, status(management[0], "/alive", Duration.ofSeconds(5)), "/alive of the service");

      for (int i = 1; i <= 2; i++) workers.add(worker("w" + i, management[i], contacts));
      for (int m : management) await(() -> status(m, "/ready", Duration.ofSeconds(5)) == 200, "/ready on " + m,
          Duration.ofSeconds(120), service, workers); // 23 s at load 8, 52 s at load 22 on 2 cores
      double formed = (System.nanoTime() - t0) / 1e9;

      ServiceProcess.Response members = service.get("/workers");
      List<String> up = new ArrayList<>();
      for (JsonNode m : members.body()) if (m.path("status").asText().equals("Up")) up.add(m.path("node").asText());
      assertEquals(3, up.size(), members.body()::toString);

      ServiceProcess.Response r = service.post("/jobs", ServiceProcess.tinyJob("bootstrapped", 4, false));
      assertEquals(201, r.status(), r.body()::toString);
      JsonNode end = service.awaitEnd(r.body().path("id").asText(), Duration.ofMinutes(3));
      assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + service.describe());
      assertFalse(end.path("workers").isEmpty(), end::toString);
      for (JsonNode w : end.path("workers")) assertTrue(w.asText().startsWith("w"), end::toString);
      System.out.printf("ServiceBootstrapIT: 3 nodes Up and ready %.1f s after the service's start; job on %s,"
          + " all done after %.1f s%n", formed, end.path("workers"), (System.nanoTime() - t0) / 1e9);
    } finally {
      for (Process w : workers) {
        w.destroy();
        if (!w.waitFor(30, TimeUnit.SECONDS)) w.destroyForcibly();
      }
    }
  }

  private static Process worker(String id, int managementPort, String contacts) throws IOException {
    List<String> args = List.of("node", "--role", "worker", "--id", id, "--port", "0", "--discovery", "config",
        "--management-port", Integer.toString(managementPort), "--contact-points", contacts);
    return new ProcessBuilder(ServiceProcess.java(FAST_BOOTSTRAP, args)).redirectErrorStream(true)
        .redirectOutput(dir.resolve(id + ".log").toFile()).start();
  }

  /** The status of GET {@code path} on a management port, waiting up to {@code timeout} for it to listen. */
  private static int status(int port, String path, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode();
      } catch (ConnectException e) {
        if (System.nanoTime() > end) throw new AssertionError("nothing listens on management port " + port, e);
        Thread.sleep(200);
      }
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  private static void await(Check c, String what, Duration timeout, ServiceProcess service, List<Process> workers)
      throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (!c.holds()) {
      if (System.nanoTime() > end) {
        StringBuilder logs = new StringBuilder();
        for (int i = 1; i <= workers.size(); i++) {
          List<String> lines = Files.readAllLines(dir.resolve("w" + i + ".log"));
          logs.append("\nw").append(i).append(": ")
              .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
        }
        throw new AssertionError("no " + what + " within " + timeout + "; " + service.describe() + logs);
      }
      Thread.sleep(250);
    }
  }
}
