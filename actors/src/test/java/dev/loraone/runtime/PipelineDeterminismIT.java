package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.job.JobEvent;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The determinism contract (DESIGN.md section 4) on real MiniLM and real WordNet data: the final
 * adapter file has the same SHA-256 whether the job ran in one process ({@code loraone finetune}),
 * as a coordinator with 1 or 3 worker actors, or was torn down after a checkpoint and resumed.
 */
class PipelineDeterminismIT {
  @TempDir static Path dir;
  static final Map<String, Object> SPEC_KEYS =
      Map.ofEntries(
          Map.entry("name", "determinism"),
          Map.entry("seed", 3),
          Map.entry("lora.rank", 4),
          Map.entry("lora.targets", "query,value"),
          Map.entry("lora.dropout", 0.0),
          Map.entry("init.method", "lora-one"),
          Map.entry("init.batch", 4),
          Map.entry("init.iters", 4),
          Map.entry("init.shards", 2),
          Map.entry("optimizer.name", "scaled-adamw"),
          Map.entry("optimizer.lr", 1e-3),
          Map.entry("optimizer.warmup", 1),
          Map.entry("train.steps", 3),
          Map.entry("train.batch", 8),
          Map.entry("train.micro-batch", 4),
          Map.entry("train.max-length", 32),
          Map.entry("eval.every", 2),
          Map.entry("eval.examples", 40),
          Map.entry("data.max-per-class", 3),
          Map.entry("checkpoint.every", 1));
  static final JobSpec spec = JobSpec.of(SPEC_KEYS);
  private static String reference;

  /**
   * The single-process adapter's SHA-256, computed by the first test that needs it (inside a test,
   * so a run hit by the intermittent gradient corruption noted in ARCHITECTURE.md is rerun whole).
   */
  static synchronized String reference() throws IOException {
    if (reference == null) {
      try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(spec), "reference")) {
        PeftAdapter adapter = f.run(e -> {}).adapter();
        Path out = dir.resolve("finetune");
        adapter.write(out);
        reference = sha256(out.resolve(PeftAdapter.WEIGHTS_FILE));
      }
    }
    return reference;
  }

  private static JobEvent.Finished pipeline(int workers) {
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec, workers, LocalWorkers.factory(), fresh("workers-" + workers), events::add,
        Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
    return (JobEvent.Finished) end;
  }

  @Test
  void finalAdapterIsIdenticalToTheSingleProcessReferenceOnOneWorker() throws IOException {
    assertEquals(reference(), pipeline(1).adapterSha256());
  }

  @Test
  void finalAdapterIsIdenticalOnOneAndThreeWorkers() throws IOException {
    JobEvent.Finished three = pipeline(3);
    assertEquals(reference(), three.adapterSha256());
    assertTrue(Files.isRegularFile(three.adapterDir().resolve(PeftAdapter.CONFIG_FILE)));
  }

  @Test
  void coordinatorKilledAfterACheckpointResumesToTheSameAdapter() throws IOException {
    Path out = fresh("resumed");
    JobEvent aborted =
        EmbeddedJob.run(
            spec,
            2,
            LocalWorkers.factory(),
            out,
            e -> {},
            e -> e instanceof JobEvent.Checkpointed c && c.step() == 2,
            Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Failed.class, aborted, "the first run is torn down after the step-2 checkpoint");
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec, 2, LocalWorkers.factory(), out, events::add, Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "resumed job ended with " + end);
    assertTrue(
        events.stream()
            .anyMatch(
                e ->
                    e instanceof JobEvent.PhaseChanged p
                        && p.detail().contains("resuming after step 2")),
        () -> "the second run resumed from the checkpoint: " + events);
    assertEquals(reference(), ((JobEvent.Finished) end).adapterSha256());
  }

  @Test
  void workerDyingMidTrainingDoesNotChangeTheAdapter() throws IOException {
    // worker-2 stops (as if its JVM died) when asked for its second gradient (step 3); its work is
    // reassigned
    EmbeddedJob.WorkerFactory dying =
        (id, coordinator, inbox) -> {
          org.apache.pekko.actor.typed.Behavior<dev.loraone.protocol.wire.WorkerMessage> real =
              dev.loraone.worker.actor.WorkerActor.create(id, "cpu", coordinator.actor(), inbox);
          if (!id.value().equals("worker-2")) return real;
          return org.apache.pekko.actor.typed.javadsl.Behaviors.intercept(
              () ->
                  new org.apache.pekko.actor.typed.BehaviorInterceptor<
                      dev.loraone.protocol.wire.WorkerMessage,
                      dev.loraone.protocol.wire.WorkerMessage>(
                      dev.loraone.protocol.wire.WorkerMessage.class) {
                    int gradients;

                    @Override
                    public org.apache.pekko.actor.typed.Behavior<
                            dev.loraone.protocol.wire.WorkerMessage>
                        aroundReceive(
                            org.apache.pekko.actor.typed.TypedActorContext<
                                    dev.loraone.protocol.wire.WorkerMessage>
                                ctx,
                            dev.loraone.protocol.wire.WorkerMessage msg,
                            ReceiveTarget<dev.loraone.protocol.wire.WorkerMessage> target) {
                      if (msg instanceof dev.loraone.protocol.wire.WorkerMessage.ComputeGradients
                          && ++gradients == 2) {
                        return org.apache.pekko.actor.typed.javadsl.Behaviors.stopped();
                      }
                      return target.apply(ctx, msg);
                    }
                  },
              real);
        };
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec, 3, dying, fresh("dying"), events::add, Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
    List<List<String>> memberships = events.stream().filter(e -> e instanceof JobEvent.WorkersChanged)
        .map(e -> ((JobEvent.WorkersChanged) e).workers()).toList();
    int joined =
        memberships.indexOf(
            memberships.stream().filter(w -> w.contains("worker-2")).findFirst().orElseThrow());
    assertTrue(memberships.subList(joined, memberships.size()).stream().anyMatch(w -> !w.contains("worker-2")),
        () -> "worker-2 joined and then left: " + memberships);
    assertEquals(reference(), ((JobEvent.Finished) end).adapterSha256());
  }

  /**
   * LoRA-GA (its init needs W0 and the whole gradient) and the head warm-up run where each worker
   * opens the job, the same way on every worker and in one process: the cluster's adapter equals
   * {@code loraone finetune}'s.
   */
  @Test
  void loraGaAfterAHeadWarmupGivesTheSingleProcessAdapterOnTwoWorkers() {
    JobSpec ga = JobSpec.of(Map.ofEntries(Map.entry("name", "lora-ga"), Map.entry("seed", 3), Map.entry("lora.rank", 2),
        Map.entry("lora.targets", "query,value"), Map.entry("init.method", "lora-ga"), Map.entry("init.batch", 4),
        Map.entry("init.iters", 4), Map.entry("init.shards", 2), Map.entry("head.warmup-steps", 2),
        Map.entry("head.warmup-lr", 1e-2), Map.entry("train.steps", 2), Map.entry("train.batch", 8),
        Map.entry("train.micro-batch", 4), Map.entry("train.max-length", 32), Map.entry("eval.examples", 40),
        Map.entry("data.max-per-class", 3), Map.entry("export.onnx", false)));
    List<JobEvent> localEvents = new ArrayList<>();
    JobEvent local = LocalJob.run(ga, fresh("lora-ga-local"), localEvents::add).end();
    assertInstanceOf(JobEvent.Finished.class, local, () -> "local run ended with " + local);
    List<JobEvent> events = new ArrayList<>();
    JobEvent end =
        EmbeddedJob.run(
            ga, 2, LocalWorkers.factory(), fresh("lora-ga"), events::add, Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
    assertEquals(((JobEvent.Finished) local).adapterSha256(), ((JobEvent.Finished) end).adapterSha256());
    JobEvent.Evaluated probe = stepZero(localEvents);
    assertEquals(probe.metrics(), stepZero(events).metrics(), "the warmed head's step-0 evaluation, on 2 workers");
    assertEquals(probe.loss(), stepZero(events).loss());
    try {
      assertEquals(
          4,
          PeftAdapter.read(((JobEvent.Finished) end).adapterDir()).config().r(),
          "W0 moved: exported at rank 2r");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * init.memory-budget = 10m: the coordinator runs LoRA-One's estimate and rounds in 3 module groups
   * of 4 (sums of 2.4 MB per module over the 2 shards) on 3 workers, each worker holding only the
   * current group's sums; the adapter is the unbounded single-process reference's, bit for bit.
   */
  @Test
  void aMemoryBoundedJobOnThreeWorkersGivesTheUnboundedFinetuneAdapter() throws IOException {
    Map<String, Object> keys = new java.util.HashMap<>(SPEC_KEYS);
    keys.put("name", "budget");
    keys.put("init.memory-budget", "10m");
    List<JobEvent> events = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(JobSpec.of(keys), 3, LocalWorkers.factory(), fresh("budget"), events::add,
        Duration.ofMinutes(10));
    assertInstanceOf(JobEvent.Finished.class, end, () -> "job ended with " + end + "; events " + events);
    assertTrue(events.stream().anyMatch(e -> e instanceof JobEvent.PhaseChanged p
        && p.detail().endsWith("module group 3 of 3")), () -> "the phase events name the groups: " + events);
    assertEquals(reference(), ((JobEvent.Finished) end).adapterSha256());
  }

  private static JobEvent.Evaluated stepZero(List<JobEvent> events) {
    List<JobEvent.Evaluated> zero = events.stream().filter(e -> e instanceof JobEvent.Evaluated v && v.step() == 0)
        .map(JobEvent.Evaluated.class::cast).toList();
    assertEquals(1, zero.size(), () -> "one step-0 evaluation in " + events);
    return zero.get(0);
  }

  /** A new output folder per attempt: a rerun must not resume a previous attempt's checkpoint. */
  private static Path fresh(String name) {
    return dir.resolve(name + "-" + System.nanoTime());
  }

  static String sha256(Path f) throws IOException {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
