package dev.loraone.coordinator;

import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.job.JobEvent;
import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordinator against fake workers (TestProbes monitor each {@link FakeWorker}) in one
 * ActorSystem. With {@code direct-send-limit = 300 B} and {@code chunk-in-jvm = on} the adapter
 * versions and the larger sketch operands travel through ChunkSender and the transfer inbox, the
 * smaller ones directly, so the workers see both paths and messages out of order.
 */
class CoordinatorActorTest {
  private static final Duration END = Duration.ofSeconds(30);
  private static final AtomicInteger JOBS = new AtomicInteger();
  private static ActorTestKit kit;
  private static ActorRef<TransferMessage> inbox;
  private static Outcome oneWorker;

  /** Holds the one-worker run that several tests compare against (computed once). */
  @TempDir
  static Path shared;

  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    kit =
        ActorTestKit.create(
            "CoordinatorActorTest",
            ConfigFactory.parseString(
                    "loraone.coordinator { direct-send-limit = 300 B, chunk-in-jvm = on }")
                .withFallback(ConfigFactory.load()));
    inbox = kit.spawn(TransferInbox.create(TransferSettings.of(kit.system())), TransferInbox.NAME);
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** What one run produced: the events, the workers' records, the end. */
  private record Outcome(List<JobEvent> events, List<FakeWorker.Record> records, JobEvent end, Path outDir) {
    JobEvent.Finished finished() {
      return assertInstanceOf(JobEvent.Finished.class, end, () -> "the job did not finish: " + end);
    }

    <T extends JobEvent> List<T> all(Class<T> type) {
      return events.stream().filter(type::isInstance).map(type::cast).toList();
    }
  }

  private static final class Run {
    final JobId job = new JobId("job-" + JOBS.incrementAndGet());
    final TestProbe<JobEvent> listener = kit.createTestProbe();
    final ActorRef<CoordinatorActor.Command> coordinator;
    private Endpoint<CoordinatorMessage> endpoint;
    final List<FakeWorker.Record> records = new ArrayList<>();
    final List<TestProbe<WorkerMessage>> probes = new ArrayList<>();
    final List<ActorRef<WorkerMessage>> workers = new ArrayList<>();
    final Path outDir;

    Run(JobSpec spec, Path outDir) {
      this.outDir = outDir;
      coordinator = kit.spawn(CoordinatorActor.create(job, spec, outDir, inbox, listener.ref()));
    }

    Endpoint<CoordinatorMessage> endpoint() {
      if (endpoint == null) {
        TestProbe<Endpoint<CoordinatorMessage>> ep = kit.createTestProbe();
        coordinator.tell(new CoordinatorActor.GetEndpoint(ep.ref()));
        endpoint = ep.receiveMessage();
      }
      return endpoint;
    }

    FakeWorker.Record worker(FakeWorker.Options o) {
      FakeWorker.Record r = new FakeWorker.Record();
      TestProbe<WorkerMessage> probe = kit.createTestProbe();
      workers.add(
          kit.spawn(
              Behaviors.monitor(
                  WorkerMessage.class, probe.ref(), FakeWorker.create(o, endpoint(), inbox, r)),
              o.id() + "-" + job));
      records.add(r);
      probes.add(probe);
      return r;
    }

    /** Events until the job's end (Finished or Failed). */
    Outcome await() {
      List<JobEvent> events = new ArrayList<>();
      while (true) {
        JobEvent e = listener.receiveMessage(END);
        events.add(e);
        if (e instanceof JobEvent.Finished || e instanceof JobEvent.Failed)
          return new Outcome(events, records, e, outDir);
      }
    }

    /** Events until {@code stop} matches. */
    List<JobEvent> awaitUntil(java.util.function.Predicate<JobEvent> stop) {
      List<JobEvent> events = new ArrayList<>();
      while (true) {
        JobEvent e = listener.receiveMessage(END);
        events.add(e);
        assertFalse(e instanceof JobEvent.Failed, () -> "failed: " + e);
        if (stop.test(e)) return events;
      }
    }
  }

  private static Map<String, TensorBlob> layout() {
    return Synthetic.layout(null, false);
  }

  private static synchronized Outcome oneWorker() {
    if (oneWorker == null) {
      Run run = new Run(Synthetic.spec(), shared.resolve("one-worker"));
      run.worker(FakeWorker.Options.plain("w1", layout()));
      oneWorker = run.await();
    }
    return oneWorker;
  }

  private static void assertVersions(List<Map<String, TensorBlob>> expected, FakeWorker.Record r, String who) {
    // The last version is broadcast just before the job finishes: a worker that had nothing left to do may
    // process it after the Finished event the test waited for, so give delivery a moment.
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (r.versions.size() < expected.size() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    assertTrue(r.conflicts.isEmpty(), r.conflicts.toString());
    for (int t = 0; t < expected.size(); t++) {
      assertEquals(expected.get(t), r.versions.get((long) t), who + ": adapter version " + t + " differs");
    }
  }

  @Test
  void oneWorkerRunsTheJobToFinishedAndMatchesTheSingleProcessReference() throws IOException {
    Outcome o = oneWorker();
    JobEvent.Finished f = o.finished();
    assertVersions(Synthetic.reference(Synthetic.spec()), o.records().get(0), "w1");
    assertEquals(Checkpoint.sha256(f.adapterDir().resolve(PeftAdapter.WEIGHTS_FILE)), f.adapterSha256());
    PeftAdapter adapter = PeftAdapter.read(f.adapterDir());
    assertEquals(2, adapter.config().r());
    assertEquals("SEQ_CLS", adapter.config().taskType());
    assertEquals("synthetic/tiny-bert", adapter.config().baseModel());
    assertEquals(List.of("classifier.bias", "classifier.weight"), List.copyOf(adapter.savedModules().keySet()));
    assertEquals(Synthetic.MODULES, List.copyOf(adapter.modules().keySet()));
    assertEquals(
        "[\"noun.act\",\"noun.animal\",\"noun.artifact\"]\n",
        Files.readString(f.adapterDir().resolve(Writer.LABELS_FILE)));
    assertEquals(
        List.of(1, 2, 3, 4, 5, 6),
        o.all(JobEvent.StepDone.class).stream().map(JobEvent.StepDone::step).toList());
    assertEquals(List.of(3, 6), o.all(JobEvent.Evaluated.class).stream().map(JobEvent.Evaluated::step).toList());
    assertEquals(6, f.finalEval().step());
    assertEquals(Synthetic.EVAL_EXAMPLES, f.finalEval().examples());
    assertEquals(0.5, f.finalEval().accuracy(), 1e-12); // 16 of 32 and 4 of 8
    JobEvent.StepDone first = o.all(JobEvent.StepDone.class).get(0);
    assertEquals(0.0, first.lr(), "linear warmup: the first step runs at lr 0");
    assertEquals(0.5, first.accuracy(), 1e-12); // micro-batches 0, 1, 2 report 0, 1, 2 correct of 2 each
    assertEquals(
        List.of(0, 2, 4, 6),
        o.all(JobEvent.Checkpointed.class).stream().map(JobEvent.Checkpointed::step).toList());
  }

  @Test
  void adapterVersionsAreIdenticalOnOneAndThreeWorkers() {
    Outcome one = oneWorker();
    Run run = new Run(Synthetic.spec(), tmp);
    for (String w : List.of("w1", "w2", "w3")) {
      run.worker(new FakeWorker.Options(w, -1, -1, -1, -1, 0, layout(), w.equals("w3")));
    }
    Outcome three = run.await();
    List<Map<String, TensorBlob>> expected = new ArrayList<>();
    for (long t = 0; t <= 6; t++) expected.add(one.records().get(0).versions.get(t));
    for (int i = 0; i < 3; i++) assertVersions(expected, three.records().get(i), "w" + (i + 1));
    assertEquals(one.finished().adapterSha256(), three.finished().adapterSha256());
    assertTrue(three.records().stream().filter(r -> r.initShardsAssigned > 0).count() >= 1);
  }

  @Test
  void aWorkerStoppingMidTrainingHasItsMicroBatchesReassignedAndTheResultIsUnchanged() {
    Outcome one = oneWorker();
    Run run = new Run(Synthetic.spec("workers.min", 3), tmp);
    run.worker(FakeWorker.Options.plain("w1", layout()));
    run.worker(new FakeWorker.Options("w2", 3, -1, -1, -1, 0, layout(), false));
    run.worker(FakeWorker.Options.plain("w3", layout()));
    Outcome o = run.await();
    assertEquals(one.finished().adapterSha256(), o.finished().adapterSha256());
    assertTrue(
        o.all(JobEvent.WorkersChanged.class).stream()
            .anyMatch(c -> c.detail().equals("w2 left") && !c.workers().contains("w2")),
        o.all(JobEvent.WorkersChanged.class).toString());
    List<Map<String, TensorBlob>> expected = new ArrayList<>();
    for (long t = 0; t <= 6; t++) expected.add(one.records().get(0).versions.get(t));
    assertVersions(expected, o.records().get(0), "w1");
  }

  @Test
  void aNanGradientFailsTheJobNamingTheStepAndKeepsTheLastCheckpoint() throws IOException {
    Run run = new Run(Synthetic.spec(), tmp);
    run.worker(new FakeWorker.Options("w1", -1, -1, 7, -1, 0, layout(), false)); // micro-batch 7 belongs to step 3
    Outcome o = run.await();
    JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, o.end());
    assertTrue(f.reason().startsWith("step 3: non-finite gradient in " + Synthetic.MODULES.get(0)), f.reason());
    assertEquals(2, Checkpoint.read(tmp.resolve(CoordinatorActor.CHECKPOINT_DIR)).orElseThrow().step());
    run.probes.get(0).fishForMessage(END, m -> m instanceof WorkerMessage.CancelJob
        ? FishingOutcomes.complete() : FishingOutcomes.continueAndIgnore());

    Run other = new Run(Synthetic.spec("train.steps", 7), tmp);
    JobEvent.Failed refused = assertInstanceOf(JobEvent.Failed.class, other.await().end());
    assertTrue(refused.reason().contains("belongs to another job spec"), refused.reason());
  }

  @Test
  void aRestartedCoordinatorResumesFromItsCheckpointBitForBit() throws IOException {
    Outcome one = oneWorker();
    Run first = new Run(Synthetic.spec(), tmp);
    first.worker(new FakeWorker.Options("w1", -1, 5, -1, -1, 0, layout(), false)); // never answers step 5
    first.awaitUntil(e -> e instanceof JobEvent.Checkpointed c && c.step() == 4);
    kit.stop(first.coordinator);
    first.workers.forEach(kit::stop);

    Run second = new Run(Synthetic.spec(), tmp);
    FakeWorker.Record r = second.worker(FakeWorker.Options.plain("w9", layout()));
    Outcome o = second.await();
    assertEquals(one.finished().adapterSha256(), o.finished().adapterSha256());
    assertEquals(List.of(5, 6), o.all(JobEvent.StepDone.class).stream().map(JobEvent.StepDone::step).toList());
    assertEquals(0, r.initShardsAssigned, "a resumed job does not redo the init");
    assertEquals(one.records().get(0).versions.get(6L), r.versions.get(6L));
  }

  @Test
  void aWorkerWithAnotherLayoutIsRejectedAndTheJobGoesOn() {
    Outcome one = oneWorker();
    Run run = new Run(Synthetic.spec("workers.min", 1), tmp);
    run.worker(FakeWorker.Options.plain("w1", layout()));
    Map<String, TensorBlob> odd = new java.util.LinkedHashMap<>(layout());
    odd.put(CoordinatorMessage.JobJoined.LABELS, CoordinatorMessage.JobJoined.labelsBlob(List.of("x", "y", "z")));
    run.worker(FakeWorker.Options.plain("w2", odd));
    Outcome o = run.await();
    assertEquals(one.finished().adapterSha256(), o.finished().adapterSha256());
    // w2 may also have been the first to join, in which case w1 is the odd one out; one of them was rejected.
    long rejected = o.records().stream().filter(r -> !r.rejections.isEmpty()).count();
    assertEquals(1, rejected);
    assertTrue(o.records().stream().flatMap(r -> r.rejections.stream()).allMatch(s -> s.contains("data.labels")));
  }

  @Test
  void aFailedUnitIsRetriedAndAUnitFailingThreeTimesFailsTheJob() {
    Outcome one = oneWorker();
    Run retried = new Run(Synthetic.spec(), tmp.resolve("retried"));
    retried.worker(new FakeWorker.Options("w1", -1, -1, -1, 4, 2, layout(), false));
    assertEquals(one.finished().adapterSha256(), retried.await().finished().adapterSha256());

    Run failing = new Run(Synthetic.spec(), tmp.resolve("failing"));
    failing.worker(new FakeWorker.Options("w1", -1, -1, -1, 4, 3, layout(), false));
    JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, failing.await().end());
    assertTrue(
        f.reason().contains("Gradients[step=2, microBatch=4] failed 3 times")
            && f.reason().endsWith("simulated CUDA error"),
        f.reason());
  }

  @Test
  void exactModeReducesTheShardGradientsThemselvesLikeTheSingleProcessInit() {
    JobSpec spec = Synthetic.spec("init.mode", "exact");
    Run run = new Run(spec, tmp);
    FakeWorker.Record r = run.worker(FakeWorker.Options.plain("w1", layout()));
    Outcome o = run.await();
    o.finished();
    assertVersions(Synthetic.reference(spec), r, "w1");
    assertEquals(
        1,
        o.all(JobEvent.PhaseChanged.class).stream()
            .filter(p -> p.phase() == dev.loraone.protocol.job.Phase.SVD_INIT)
            .map(JobEvent.PhaseChanged::detail)
            .filter(d -> d.startsWith("1 rounds"))
            .count());
  }

  /**
   * init.memory-budget = 1 byte: each module is a group of its own, whose shards, rounds and init run
   * in turn, randomized and exact, on 1 and 3 workers; every adapter version is the single-process
   * reference's, which has no groups.
   */
  @Test
  void aGroupedInitGivesTheReferenceVersionsOnOneAndThreeWorkers() {
    for (String mode : List.of("randomized", "exact")) {
      for (int workers : new int[] {1, 3}) {
        JobSpec spec = Synthetic.spec("init.mode", mode, "init.memory-budget", 1, "workers.min", workers);
        Run run = new Run(spec, tmp.resolve(mode + "-" + workers));
        List<FakeWorker.Record> records = new ArrayList<>();
        for (int i = 1; i <= workers; i++) records.add(run.worker(FakeWorker.Options.plain("w" + i, layout())));
        Outcome o = run.await();
        o.finished();
        for (int i = 0; i < workers; i++) assertVersions(Synthetic.reference(spec), records.get(i), "w" + (i + 1));
        List<String> details = o.all(JobEvent.PhaseChanged.class).stream().map(JobEvent.PhaseChanged::detail).toList();
        assertTrue(details.stream().anyMatch(d -> d.endsWith("module group 2 of 2")), details.toString());
        assertEquals(2 * 2, records.stream().mapToInt(r -> r.initShardsAssigned).sum(), () -> mode + " on "
            + workers + ": 2 shards per group; " + records.stream().map(r -> r.initShardsAssigned).toList() + details);
      }
    }
  }

  @Test
  void anInitOnTheWorkersGoesStraightToTrainingAndPissaExportsAtRank2r() throws IOException {
    Run run = new Run(Synthetic.spec("init.method", "pissa"), tmp);
    FakeWorker.Record r = run.worker(FakeWorker.Options.plain("w1", Synthetic.layout(Synthetic.workerInit(2), true)));
    Outcome o = run.await();
    JobEvent.Finished f = o.finished();
    assertEquals(0, r.initShardsAssigned);
    assertEquals(Synthetic.layout(Synthetic.workerInit(2), true).get(Synthetic.MODULES.get(0) + ".lora_A"),
        r.versions.get(0L).get(Synthetic.MODULES.get(0) + ".lora_A"));
    assertEquals(4, PeftAdapter.read(f.adapterDir()).config().r());
    assertTrue(
        o.all(JobEvent.PhaseChanged.class).stream()
            .noneMatch(p -> p.phase() == dev.loraone.protocol.job.Phase.SVD_INIT));
  }

  @Test
  void noWorkerWithinTheWaitFailsTheJobNamingTheKey() {
    Run run = new Run(Synthetic.spec("workers.wait-seconds", 1), tmp);
    JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, run.await().end());
    assertTrue(f.reason().contains("no worker served the job for 1 s (workers.wait-seconds)"), f.reason());
  }

  /** A worker "broken" registers, is sent the job and answers that it cannot open it. */
  private static void joinFails(Run run, String model, String why) {
    TestProbe<WorkerMessage> broken = kit.createTestProbe();
    dev.loraone.protocol.wire.WorkerId id = new dev.loraone.protocol.wire.WorkerId("broken");
    run.endpoint()
        .actor()
        .tell(
            new CoordinatorMessage.RegisterWorker(
                id,
                dev.loraone.protocol.wire.WireRegistry.PROTOCOL_VERSION,
                "cpu",
                Map.of(),
                new Endpoint<>(broken.ref(), inbox)));
    broken.fishForMessage(
        END,
        m ->
            m instanceof WorkerMessage.JoinJob
                ? FishingOutcomes.complete()
                : FishingOutcomes.continueAndIgnore());
    run.endpoint()
        .actor()
        .tell(
            new CoordinatorMessage.WorkFailed(
                run.job, id, new dev.loraone.protocol.wire.WorkItem.Join(model), why));
  }

  @Test
  void aWorkerThatCannotOpenTheJobIsNamedInTheStatusAndTheTimeout() {
    Run run = new Run(Synthetic.spec("workers.wait-seconds", 2, "workers.fail-on-join-error", false), tmp);
    String why = "model folder /models/missing: config.json not found";
    joinFails(run, "/models/missing", why);
    Outcome o = run.await();
    assertTrue(
        o.all(JobEvent.WorkersChanged.class).stream()
            .anyMatch(c -> c.detail().equals("worker broken could not join: " + why)),
        o.events().toString());
    JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, o.end());
    assertTrue(f.reason().contains("workers.wait-seconds") && f.reason().endsWith(why), f.reason());
  }

  @Test
  void aJobFailsAtOnceWhenEveryWorkerThatTriedCannotOpenIt() {
    Run run = new Run(Synthetic.spec("workers.wait-seconds", 600), tmp);
    String why = "data.txt:3: invalid UTF-8";
    joinFails(run, "minilm", why);
    JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, run.await().end());
    assertEquals("no worker could open the job: worker broken could not join: " + why, f.reason());
  }

  @Test
  void checkpointNowSavesTheLastAppliedStepBetweenPeriodicCheckpoints() throws IOException {
    Run run = new Run(Synthetic.spec("checkpoint.every", 0), tmp);
    run.worker(new FakeWorker.Options("w1", -1, 5, -1, -1, 0, layout(), false)); // never answers step 5
    List<JobEvent> seen = run.awaitUntil(e -> e instanceof JobEvent.StepDone s && s.step() == 4);
    if (seen.stream()
        .noneMatch(
            e ->
                e instanceof JobEvent.Checkpointed c
                    && c.step() == 0)) { // the writer runs on its own thread
      run.awaitUntil(e -> e instanceof JobEvent.Checkpointed c && c.step() == 0);
    }
    assertEquals(
        0,
        Checkpoint.read(tmp.resolve(CoordinatorActor.CHECKPOINT_DIR)).orElseThrow().step(),
        "only the init's checkpoint so far");
    TestProbe<org.apache.pekko.Done> done = kit.createTestProbe();
    run.coordinator.tell(new CoordinatorActor.CheckpointNow(done.ref()));
    done.receiveMessage(END);
    assertEquals(4, Checkpoint.read(tmp.resolve(CoordinatorActor.CHECKPOINT_DIR)).orElseThrow().step());
    kit.stop(run.coordinator);
  }
}
