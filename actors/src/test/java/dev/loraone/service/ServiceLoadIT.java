package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Load on one {@code loraone serve} ({@code --max-concurrent 2 --workers 1}): 50 tiny real MiniLM
 * jobs POSTed at once from 50 threads. Every POST is accepted with its own id, none is lost or
 * doubled, at most two run at any moment and the rest queue, and all 50 succeed, each with an
 * adapter hash and one Finished event; the metrics count 50 successes. Prints the wall time and
 * the throughput.
 */
class ServiceLoadIT {
  @TempDir Path dir;
  static final int JOBS = 50;
  static final int MAX_CONCURRENT = 2;
  static final Duration ALL_DONE = Duration.ofMinutes(10);

  /** The tiny job, shrunk further: 2 steps of 4 examples at 16 tokens, a 1-micro-batch init, 8 evaluation examples. */
  static String loadJob(String name) {
    return ServiceProcess.tinyJob(name, 2, false) + """
        job {
          init { batch = 4, iters = 1, shards = 1 }
          train { batch = 4, micro-batch = 4, max-length = 16 }
          eval.examples = 8
          data.max-per-class = 2
        }
        """;
  }

  @Test
  void fiftyConcurrentSubmissionsAllRunToSuccessTwoAtATime() throws Exception {
    try (ServiceProcess service = ServiceProcess.start(dir, dir.resolve("data"), ServiceProcess.freePort(),
        List.of("--workers", "1", "--max-concurrent", Integer.toString(MAX_CONCURRENT)))) {
      long t0 = System.nanoTime();
      CountDownLatch go = new CountDownLatch(1);
      ExecutorService pool = Executors.newFixedThreadPool(JOBS);
      List<Future<ServiceProcess.Response>> posts = new ArrayList<>();
      try {
        for (int i = 0; i < JOBS; i++) {
          String name = "load" + i;
          posts.add(pool.submit(() -> {
            go.await();
            return service.post("/jobs", loadJob(name));
          }));
        }
        go.countDown();
        Set<String> ids = new HashSet<>();
        Map<String, String> names = new TreeMap<>();
        for (Future<ServiceProcess.Response> f : posts) {
          ServiceProcess.Response r = f.get();
          assertEquals(201, r.status(), () -> "POST /jobs: " + r.body() + "\n" + service.describe());
          String id = r.body().path("id").asText();
          assertTrue(ids.add(id), () -> "id " + id + " given twice");
          names.put(id, r.body().path("name").asText());
        }
        assertEquals(JOBS, new HashSet<>(names.values()).size(), "each job keeps its own name");
        long posted = System.nanoTime();

        int maxRunning = 0;
        int observations = 0;
        Set<String> seenQueued = new HashSet<>();
        long end = System.nanoTime() + ALL_DONE.toNanos();
        while (true) {
          ServiceProcess.Response list = service.get("/jobs");
          assertEquals(200, list.status(), list.body()::toString);
          List<String> listed = new ArrayList<>();
          int running = 0;
          int succeeded = 0;
          for (JsonNode j : list.body()) {
            String id = j.path("id").asText();
            listed.add(id);
            String state = j.path("state").asText();
            switch (state) {
              case "QUEUED" -> seenQueued.add(id);
              case "RUNNING" -> running++;
              case "SUCCEEDED" -> succeeded++;
              default ->
                  fail(
                      "job "
                          + id
                          + " is "
                          + state
                          + ": "
                          + service.get("/jobs/" + id).body()
                          + "\n"
                          + service.describe());
            }
          }
          assertEquals(JOBS, listed.size(), () -> "GET /jobs lists " + listed);
          assertEquals(ids, new HashSet<>(listed), "GET /jobs lists exactly the submitted ids");
          observations++;
          maxRunning = Math.max(maxRunning, running);
          int r = running;
          assertTrue(
              running <= MAX_CONCURRENT,
              () -> r + " jobs RUNNING at once with --max-concurrent " + MAX_CONCURRENT);
          if (succeeded == JOBS) break;
          assertTrue(
              System.nanoTime() < end,
              () ->
                  "not all jobs succeeded within "
                      + ALL_DONE
                      + ": "
                      + list.body()
                      + "\n"
                      + service.describe());
          Thread.sleep(250);
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double postSeconds = (posted - t0) / 1e9;

        assertTrue(
            seenQueued.size() >= JOBS - 2 * MAX_CONCURRENT,
            () -> "jobs waited in the queue: only " + seenQueued.size() + " seen QUEUED");
        for (String id : ids) {
          JsonNode j = service.get("/jobs/" + id).body();
          assertTrue(j.path("adapterSha256").asText().matches("[0-9a-f]{64}"), () -> id + " has no adapter hash: " + j);
          List<JsonNode> events = service.events(id);
          long finished = events.stream().filter(e -> e.path("event").asText().equals("Finished")).count();
          assertEquals(1, finished, () -> id + ": " + finished + " Finished events: " + events);
          assertEquals(
              j.path("adapterSha256").asText(),
              events.stream()
                  .filter(e -> e.path("event").asText().equals("Finished"))
                  .findFirst()
                  .orElseThrow()
                  .path("adapterSha256")
                  .asText(),
              id + ": the Finished event's hash is the job's");
          assertEquals(
              1,
              events.stream().filter(e -> e.path("event").asText().equals("Started")).count(),
              () -> id + " started once: " + events);
        }
        String metrics = service.getText("/metrics").body();
        Matcher m =
            Pattern.compile("(?m)^loraone_jobs_ended_total\\{state=\"SUCCEEDED\"\\} ([0-9.eE+]+)$")
                .matcher(metrics);
        assertTrue(m.find(), () -> "no loraone_jobs_ended_total{state=\"SUCCEEDED\"} in\n" + metrics);
        assertEquals(JOBS, Double.parseDouble(m.group(1)), 0.0, metrics);
        assertFalse(metrics.contains("state=\"FAILED\""), () -> "no job failed:\n" + metrics);
        System.out.printf(
            "[ServiceLoadIT] %d jobs, --max-concurrent %d, 1 local worker: all POSTs answered in %.2f s, all "
                + "SUCCEEDED after "
                + "%.1f s wall: %.1f jobs/min; at most %d RUNNING over %d observations of GET /jobs%n",
            JOBS, MAX_CONCURRENT, postSeconds, wall, JOBS / wall * 60, maxRunning, observations);
        System.out.printf(
            "[ServiceLoadIT] tiny jobs: %.1f jobs/min (issue 13's figure comes from the same test at b37d4c9, run"
                + " beside it: docs/results/shared-base-model.md)%n",
            JOBS / wall * 60);
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
