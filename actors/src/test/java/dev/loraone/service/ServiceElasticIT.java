package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Elastic operations on a running service (3 worker JVMs on 127.0.0.1 over its lifetime): a job
 * submitted over HTTP trains on two worker nodes, a third joins mid-training, then {@code loraone
 * node leave} drains the first one out of the cluster; the job finishes with the adapter SHA-256
 * of the single-process reference, as with fixed membership.
 */
class ServiceElasticIT {
  @TempDir static Path dir;

  static final JobSpec SPEC =
      JobSpec.of(
          Map.ofEntries(
              Map.entry("name", "elastic"),
              Map.entry("seed", 5),
              Map.entry("lora.rank", 4),
              Map.entry("lora.targets", "query,value"),
              Map.entry("init.batch", 4),
              Map.entry("init.iters", 4),
              Map.entry("init.shards", 2),
              Map.entry("optimizer.lr", 1e-3),
              Map.entry("optimizer.warmup", 1),
              Map.entry("train.steps", 160),
              Map.entry("train.batch", 8),
              Map.entry("train.micro-batch", 4),
              Map.entry("train.max-length", 32),
              Map.entry("eval.every", 0),
              Map.entry("eval.examples", 16),
              Map.entry("data.max-per-class", 3),
              Map.entry("checkpoint.every", 10),
              Map.entry("export.onnx", false),
              Map.entry("workers.wait-seconds", 300),
              Map.entry("workers.min", 2)));
  static final Duration JOB = Duration.ofMinutes(8);

  private static String reference() throws IOException, Exception {
    try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(SPEC), "reference")) {
      Path out = dir.resolve("finetune");
      f.run(e -> {}).adapter().write(out);
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256")
                  .digest(Files.readAllBytes(out.resolve(PeftAdapter.WEIGHTS_FILE))));
    }
  }

  private static Process worker(String id, int port, int seed) throws IOException {
    List<String> args =
        List.of(
            "node",
            "--role",
            "worker",
            "--id",
            id,
            "--port",
            Integer.toString(port),
            "--seed-nodes",
            "127.0.0.1:" + seed);
    return new ProcessBuilder(ServiceProcess.java(List.of(), args)).redirectErrorStream(true)
        .redirectOutput(dir.resolve(id + ".log").toFile()).start();
  }

  private static boolean servedBy(JsonNode job, String worker) {
    for (JsonNode w : job.path("workers")) if (w.asText().equals(worker)) return true;
    return false;
  }

  @Test
  void aWorkerAddedAndAnotherDrainedWhileAJobTrainsLeaveItsAdapterUnchanged() throws Exception {
    String expected = reference();
    int clusterPort = ServiceProcess.freePort();
    List<Process> workers = new ArrayList<>();
    try (ServiceProcess service =
        ServiceProcess.start(dir, dir.resolve("data"), clusterPort, List.of("--workers", "0"))) {
      int w1Port = ServiceProcess.freePort();
      workers.add(worker("w1", w1Port, clusterPort));
      workers.add(worker("w2", ServiceProcess.freePort(), clusterPort));
      ServiceProcess.Response r = service.post("/jobs", SPEC.render());
      assertEquals(201, r.status(), r.body()::toString);
      String id = r.body().path("id").asText();
      service.awaitJob(id, j -> j.path("step").asInt() >= 2, JOB);

      workers.add(worker("w3", ServiceProcess.freePort(), clusterPort));
      JsonNode joined = service.awaitJob(id, j -> servedBy(j, "w3"), JOB);
      int joinedAt = joined.path("step").asInt();

      Process leave =
          new ProcessBuilder(
                  ServiceProcess.java(
                      List.of(),
                      List.of("node", "leave", "--server", service.url, "127.0.0.1:" + w1Port)))
              .redirectErrorStream(true)
              .start();
      String said = new String(leave.getInputStream().readAllBytes());
      assertTrue(leave.waitFor(60, TimeUnit.SECONDS) && leave.exitValue() == 0, () -> "loraone node leave: " + said);
      JsonNode left =
          service.awaitJob(
              id, j -> !servedBy(j, "w1") || j.path("state").asText().equals("SUCCEEDED"), JOB);
      int leftAt = left.path("step").asInt();
      assertTrue(workers.get(0).waitFor(120, TimeUnit.SECONDS), "the drained worker node's JVM exits");

      JsonNode end = service.awaitEnd(id, JOB);
      System.out.println(
          "ServiceElasticIT: w3 joined after step "
              + joinedAt
              + ", w1 drained out after step "
              + leftAt
              + " of "
              + SPEC.getInt("train.steps")
              + "; adapter "
              + end.path("adapterSha256").asText()
              + " (reference "
              + expected
              + ")");
      assertEquals("SUCCEEDED", end.path("state").asText(), end::toString);
      int steps = SPEC.getInt("train.steps");
      assertTrue(
          joinedAt < steps && leftAt < steps,
          () -> "w3 joined at step " + joinedAt + ", w1 left at step " + leftAt + " of " + steps);
      assertFalse(servedBy(end, "w1"), end::toString);
      String w1Log = Files.readString(dir.resolve("w1.log"));
      assertTrue(w1Log.contains("drains") && w1Log.contains("drained"), () -> "w1 drained before leaving:\n" + w1Log);
      assertEquals(
          expected,
          end.path("adapterSha256").asText(),
          "the adapter with a worker added and another drained mid-job");
    } finally {
      for (Process p : workers) {
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
      }
    }
  }
}
