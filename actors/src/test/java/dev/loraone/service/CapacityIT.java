package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.job.JobSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capacity-aware scheduling on a 3-node cluster (the service without local workers, two worker nodes in their own
 * JVMs, each declaring {@code --memory} for one large job or two small ones): six jobs whose estimates sum to
 * more than a node holds, one of them too large for any node. Every job that fits succeeds; at no moment do the
 * jobs placed on a node reserve more than it declared; jobs start in queue order (priority, then submission);
 * the API says why queued jobs wait and where the others ran; the too-large one is held with that reason.
 */
class CapacityIT {
  @TempDir static Path dir;
  static final Duration ALL = Duration.ofMinutes(4);

  static String job(String name, int priority, boolean big) {
    return """
        job {
          name = %s
          priority = %d
          lora { rank = 4, targets = "%s" }
          init { method = %s, batch = 4, iters = 2, shards = 2 }
          optimizer { lr = 1e-3, warmup = 1 }
          train { steps = 3, batch = 8, micro-batch = %d, max-length = %d }
          eval { every = 0, examples = 16 }
          data.max-per-class = 3
          checkpoint.every = 0
          export.onnx = %s
          workers.wait-seconds = 120
        }
        """.formatted(name, priority, big ? "all-linear" : "query,value", big ? "lora-one" : "lora",
        big ? 8 : 4, big ? 64 : 16, big);
  }

  static long estimate(String hocon) {
    return JobEstimate.of(JobSpec.parseString(hocon, "test")).bytes();
  }

  private static Process worker(String id, int port, int seed, long memory) throws IOException {
    List<String> args = List.of("node", "--role", "worker", "--id", id, "--port", Integer.toString(port),
        "--seed-nodes", "127.0.0.1:" + seed, "--memory", Long.toString(memory));
    return new ProcessBuilder(ServiceProcess.java(List.of(), args)).redirectErrorStream(true)
        .redirectOutput(dir.resolve(id + ".log").toFile()).start();
  }

  @Test
  void jobsWhoseSumExceedsANodeAllSucceedPlacedWithinEachNodesMemoryInQueueOrder() throws Exception {
    long small = estimate(job("s", 0, false));
    long big = estimate(job("b", 0, true));
    assertTrue(big > small * 5 / 4, () -> "a big job must not fit beside a small one: " + big + " vs " + small);
    long memory = Math.max(big, 2 * small) + small / 4; // one big, or two small; never a big and a small
    String huge = job("huge", 0, true).replace("micro-batch = 8, max-length = 64", "micro-batch = 8, max-length = 512");
    assertTrue(estimate(huge) > memory, "the huge job fits no node");
    // submitted in this order; the queue runs s3 (priority 5) first, then by submission; huge is held aside
    Map<String, String> specs = new LinkedHashMap<>();
    specs.put("b1", job("b1", 0, true));
    specs.put("s1", job("s1", 0, false));
    specs.put("s2", job("s2", 0, false));
    specs.put("b2", job("b2", 0, true));
    specs.put("s3", job("s3", 5, false));
    specs.put("huge", huge);
    List<String> order = List.of("s3", "b1", "s1", "s2", "b2");
    int clusterPort = ServiceProcess.freePort();
    List<Process> workers = new ArrayList<>();
    try (ServiceProcess service = ServiceProcess.start(dir, dir.resolve("data"), clusterPort,
        List.of("--workers", "0", "--max-concurrent", "8"))) {
      Map<String, String> ids = new LinkedHashMap<>();
      for (var e : specs.entrySet()) {
        ServiceProcess.Response r = service.post("/jobs", e.getValue());
        assertEquals(201, r.status(), r.body()::toString);
        ids.put(e.getKey(), r.body().path("id").asText());
      }
      JsonNode first = service.get("/jobs/" + ids.get("b1")).body();
      assertTrue(first.path("waiting").asText().startsWith("waits for a worker node"), first::toString);
      int p1 = ServiceProcess.freePort();
      int p2 = ServiceProcess.freePort();
      workers.add(worker("w1", p1, clusterPort, memory));
      workers.add(worker("w2", p2, clusterPort, memory));
      List<String> nodes = List.of("127.0.0.1:" + p1, "127.0.0.1:" + p2);

      Map<String, Set<String>> waited = new HashMap<>();
      long end = System.nanoTime() + ALL.toNanos();
      JsonNode all = null;
      while (System.nanoTime() < end) {
        all = service.get("/jobs").body();
        Map<String, Long> reserved = new HashMap<>();
        int ended = 0;
        for (JsonNode j : all) {
          if (j.has("waiting")) {
            waited.computeIfAbsent(j.path("name").asText(), k -> new LinkedHashSet<>()).add(j.path("waiting").asText());
          }
          String state = j.path("state").asText();
          if (state.equals("RUNNING")) {
            for (JsonNode n : j.path("nodes")) reserved.merge(n.asText(), j.path("memoryBytes").asLong(), Long::sum);
          }
          if (!state.equals("QUEUED") && !state.equals("RUNNING")) ended++;
        }
        for (var r : reserved.entrySet()) {
          assertTrue(r.getValue() <= memory, "node " + r.getKey() + " holds " + r.getValue() + " > " + memory + ": "
              + all);
        }
        if (ended == order.size()) break;
        Thread.sleep(150);
      }
      Map<String, JsonNode> done = new HashMap<>();
      for (var e : ids.entrySet()) done.put(e.getKey(), service.get("/jobs/" + e.getValue()).body());
      StringBuilder report = new StringBuilder("[CapacityIT] node memory " + memory + " B, small " + small + " B, big "
          + big + " B\n");
      for (String name : order) {
        JsonNode j = done.get(name);
        report.append(String.format("  %-4s %-9s started %d on %s; waited: %s%n", name, j.path("state").asText(),
            j.path("started").asLong(), j.path("nodes"), waited.getOrDefault(name, Set.of())));
      }
      System.out.print(report);
      for (String name : order) {
        JsonNode j = done.get(name);
        assertEquals("SUCCEEDED", j.path("state").asText(), () -> name + ": " + j + "\n" + service.describe());
        assertTrue(j.path("nodes").size() >= 1, () -> name + " ran on no node: " + j);
        for (JsonNode n : j.path("nodes")) assertTrue(nodes.contains(n.asText()), () -> name + ": " + j);
      }
      for (int i = 1; i < order.size(); i++) {
        long before = done.get(order.get(i - 1)).path("started").asLong();
        long after = done.get(order.get(i)).path("started").asLong();
        assertTrue(before <= after, order.get(i - 1) + " starts no later than " + order.get(i) + "\n" + report);
      }
      List<String> reasons = waited.values().stream().flatMap(Set::stream).toList();
      assertTrue(reasons.stream().anyMatch(w -> w.contains("largest free")), report::toString);
      assertTrue(reasons.stream().anyMatch(w -> w.contains("job(s) ahead")), report::toString);
      JsonNode held = done.get("huge");
      assertEquals("QUEUED", held.path("state").asText(), held::toString);
      assertTrue(held.path("waiting").asText().contains("held until a larger node joins"), held::toString);

      Process status = new ProcessBuilder(ServiceProcess.java(List.of(),
          List.of("status", "--server", service.url))).redirectErrorStream(true).start();
      String said = new String(status.getInputStream().readAllBytes());
      assertTrue(status.waitFor(60, TimeUnit.SECONDS) && status.exitValue() == 0, said);
      assertTrue(said.contains("waits: needs") && said.contains("held until a larger node joins"), said);
      assertTrue(said.contains("on " + nodes.get(0)) || said.contains("on " + nodes.get(1)), said);
      assertEquals(202, service.post("/jobs/" + ids.get("huge") + "/cancel", "").status());
    } finally {
      for (Process p : workers) {
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
      }
    }
  }
}
