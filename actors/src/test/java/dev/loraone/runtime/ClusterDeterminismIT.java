package dev.loraone.runtime;

import static dev.loraone.runtime.NodeProcess.event;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract across JVMs (DESIGN.md sections 4 and 6): {@code loraone node} processes
 * on 127.0.0.1 (a coordinator and worker nodes, each its own JVM from the packaged jar) fine-tune
 * real MiniLM on real WordNet, and the final adapter has the single-process reference's SHA-256
 * even when a new worker joins mid-training and another is SIGKILLed, or when the coordinator is
 * SIGKILLed and started again on its output folder while the workers stay up.
 */
class ClusterDeterminismIT {
  @TempDir static Path dir;

  /**
   * Enough steps that a worker JVM started after step 2 joins before the end; {@code workers.min =
   * 2} holds the start until both first worker JVMs have joined (their start-up order varies under
   * load).
   */
  static final JobSpec spec =
      JobSpec.of(
          Map.ofEntries(
              Map.entry("name", "cluster"),
              Map.entry("seed", 5),
              Map.entry("lora.rank", 4),
              Map.entry("lora.targets", "query,value"),
              Map.entry("init.method", "lora-one"),
              Map.entry("init.batch", 4),
              Map.entry("init.iters", 4),
              Map.entry("init.shards", 2),
              Map.entry("optimizer.name", "scaled-adamw"),
              Map.entry("optimizer.lr", 1e-3),
              Map.entry("optimizer.warmup", 1),
              Map.entry("train.steps", 80),
              Map.entry("train.batch", 8),
              Map.entry("train.micro-batch", 4),
              Map.entry("train.max-length", 32),
              Map.entry("eval.every", 0),
              Map.entry("eval.examples", 16),
              Map.entry("data.max-per-class", 3),
              Map.entry("checkpoint.every", 1),
              Map.entry("workers.wait-seconds", 300),
              Map.entry("workers.min", 2))); // both first workers serve from the init on

  static final Duration JOB = Duration.ofMinutes(8);
  private static String reference;

  /** The single-process adapter's SHA-256 (inside a test, so a failed attempt is rerun whole). */
  static synchronized String reference() throws IOException {
    if (reference == null) {
      try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(spec), "reference")) {
        Path out = dir.resolve("finetune-" + System.nanoTime());
        f.run(e -> {}).adapter().write(out);
        reference = PipelineDeterminismIT.sha256(out.resolve(PeftAdapter.WEIGHTS_FILE));
      }
    }
    return reference;
  }

  private static Path jobFile() throws IOException {
    Path f = dir.resolve("cluster.conf");
    if (!Files.exists(f)) Files.writeString(f, spec.render());
    return f;
  }

  private static int lastStep(NodeProcess coordinator) {
    int step = 0;
    for (JsonNode e : coordinator.events()) if (event("StepDone").test(e)) step = e.path("step").asInt();
    return step;
  }

  private static boolean servedBy(JsonNode e, String worker) {
    if (!event("WorkersChanged").test(e)) return false;
    for (JsonNode w : e.path("workers")) if (w.asText().equals(worker)) return true;
    return false;
  }

  /**
   * Node JVMs on 127.0.0.1 that seed through the coordinator's port and w1's, so a restarted
   * coordinator (same port) finds the running workers; closing stops whatever still runs.
   */
  private static final class Cluster implements AutoCloseable {
    final int coordinatorPort = NodeProcess.freePort();
    final int firstWorkerPort = NodeProcess.freePort();
    final List<Integer> seeds = List.of(coordinatorPort, firstWorkerPort);
    final List<NodeProcess> nodes = new ArrayList<>();

    NodeProcess coordinator(Path out) throws IOException {
      return add(NodeProcess.coordinator(dir, coordinatorPort, seeds, jobFile(), out));
    }

    /** w1 listens on the seed port; the others on free ports. */
    NodeProcess worker(String id) throws IOException {
      return add(NodeProcess.worker(dir, id, id.equals("w1") ? firstWorkerPort : NodeProcess.freePort(), seeds));
    }

    private NodeProcess add(NodeProcess n) {
      nodes.add(n);
      return n;
    }

    @Override
    public void close() throws InterruptedException {
      for (NodeProcess n : nodes) n.close();
    }
  }

  @Test
  void aWorkerJoiningAndAnotherKilledMidTrainingLeaveTheAdapterUnchanged() throws Exception {
    try (Cluster cluster = new Cluster()) {
      NodeProcess coordinator = cluster.coordinator(dir.resolve("elastic-" + System.nanoTime()));
      cluster.worker("w1");
      NodeProcess doomed = cluster.worker("w2");
      coordinator.await("step 2", e -> event("StepDone").test(e) && e.path("step").asInt() >= 2, JOB);
      assertTrue(
          coordinator.events().stream().anyMatch(e -> servedBy(e, "w2")),
          () -> "w2 served the job; " + coordinator.describe());

      cluster.worker("w3");
      coordinator.await("w3 joining", e -> servedBy(e, "w3"), JOB);
      int joinedAt = lastStep(coordinator);
      doomed.kill();
      int killedAt = lastStep(coordinator);
      coordinator.await("w2 leaving", e -> event("WorkersChanged").test(e) && !servedBy(e, "w2")
          && e.path("detail").asText().contains("w2"), JOB);
      JsonNode end = coordinator.end(JOB);

      assertEquals("Finished", end.path("event").asText(), coordinator::describe);
      assertTrue(
          joinedAt < spec.getInt("train.steps") && killedAt < spec.getInt("train.steps"),
          () ->
              "w3 joined after step "
                  + joinedAt
                  + " and w2 was killed after step "
                  + killedAt
                  + " of "
                  + spec.getInt("train.steps"));
      assertEquals(reference(), end.path("adapterSha256").asText(), "the adapter of the elastic 3-JVM run");
    }
  }

  @Test
  void aCoordinatorKilledMidTrainingAndStartedAgainResumesToTheSameAdapter() throws Exception {
    Path out = dir.resolve("resume-" + System.nanoTime());
    try (Cluster cluster = new Cluster()) {
      NodeProcess first = cluster.coordinator(out);
      cluster.worker("w1");
      cluster.worker("w2");
      first.await("the step-3 checkpoint", e -> event("Checkpointed").test(e) && e.path("step").asInt() >= 3, JOB);
      first.kill();
      int saved = lastCheckpoint(first);

      NodeProcess second = cluster.coordinator(out);
      JsonNode resumed =
          second.await(
              "resuming",
              e ->
                  event("PhaseChanged").test(e) && e.path("detail").asText().startsWith("resuming"),
              JOB);
      JsonNode end = second.end(JOB);

      assertEquals("Finished", end.path("event").asText(), second::describe);
      int from = Integer.parseInt(resumed.path("detail").asText().replaceAll("\\D+", ""));
      assertTrue(
          from >= saved && from >= 3,
          () -> "resumed after step " + from + ", the killed run had checkpointed step " + saved);
      assertTrue(second.events().stream().filter(event("StepDone")).allMatch(e -> e.path("step").asInt() > from),
          () -> "the resumed run does not redo steps up to " + from + ": " + second.events());
      assertEquals(reference(), end.path("adapterSha256").asText(), "the adapter of the resumed run");
    }
  }

  private static int lastCheckpoint(NodeProcess coordinator) {
    int step = -1;
    for (JsonNode e : coordinator.events())
      if (event("Checkpointed").test(e)) step = Math.max(step, e.path("step").asInt());
    return step;
  }
}
