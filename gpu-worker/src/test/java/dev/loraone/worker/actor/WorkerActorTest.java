package dev.loraone.worker.actor;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.tensor.TensorMatrices;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.data.stream.Prefetch;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.CoordinatorMessage.Evaluated;
import dev.loraone.protocol.wire.CoordinatorMessage.GradientsComputed;
import dev.loraone.protocol.wire.CoordinatorMessage.InitShardAccumulated;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.CoordinatorMessage.RegisterWorker;
import dev.loraone.protocol.wire.CoordinatorMessage.SketchReply;
import dev.loraone.protocol.wire.CoordinatorMessage.WorkFailed;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.protocol.wire.WorkerMessage;
import dev.loraone.worker.train.EngineLayout;
import dev.loraone.worker.train.WorkerEngine;
import dev.loraone.worker.train.Workload;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A TestProbe plays the coordinator; the oracle is a {@link WorkerEngine} opened directly from the
 * same spec. Replies above 16 KiB of tensors (here: JobJoined, SketchReply, GradientsComputed)
 * travel through ChunkSender and a real TransferInbox, as between nodes.
 */
class WorkerActorTest {
  private static final JobId JOB = new JobId("job-a");
  private static final Duration OPEN = Duration.ofSeconds(120);
  private static final Duration WORK = Duration.ofSeconds(60);

  private static JobSpec spec;
  private static WorkerEngine direct;
  private static ActorTestKit kit;
  private static ActorRef<TransferMessage> inbox;

  /**
   * WorkerEngineTest's tiny job: MiniLM, WordNet at 3 per class, rank 4 on query and value, 2 init
   * micro-batches in 2 shards.
   */
  private static JobSpec tinyJob() {
    Map<String, Object> m = new HashMap<>();
    m.put("model", "minilm");
    m.put("data.max-per-class", 3);
    m.put("lora.rank", 4);
    m.put("lora.targets", "query,value");
    m.put("init.batch", 2);
    m.put("init.iters", 2);
    m.put("init.shards", 2);
    m.put("train.steps", 2);
    m.put("train.batch", 8);
    m.put("train.micro-batch", 4);
    m.put("train.max-length", 16);
    m.put("eval.examples", 40);
    m.put("seed", 7);
    return JobSpec.of(m);
  }

  @BeforeAll
  static void start() throws IOException {
    spec = tinyJob();
    direct = WorkerEngine.open(spec); // before the actors: DJL work never overlaps
    Config config = ConfigFactory.parseString("""
        loraone.worker.heartbeat-interval = 0s
        loraone.worker.register-retry = 300ms
        loraone.worker.direct-send-limit = 16 KiB
        """).withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("WorkerActorTest", config);
    inbox = kit.spawn(TransferInbox.create(TransferSettings.of(kit.system())), TransferInbox.NAME);
  }

  @AfterAll
  static void stop() {
    if (kit != null) kit.shutdownTestKit();
    if (direct != null) direct.close();
  }

  /** Registers a worker with {@code probe} as its coordinator and returns the worker's endpoint. */
  private static Endpoint<WorkerMessage> registered(String name, TestProbe<CoordinatorMessage> probe) {
    return registered(name, probe, null);
  }

  /** As {@link #registered(String, TestProbe)}, with {@code settings} (null: the config's). */
  private static Endpoint<WorkerMessage> registered(String name, TestProbe<CoordinatorMessage> probe,
      WorkerSettings settings) {
    WorkerId id = new WorkerId(name);
    kit.spawn(WorkerActor.create(id, "cpu", Map.of(), probe.ref(), inbox, settings), "worker-" + name);
    RegisterWorker first = probe.expectMessageClass(RegisterWorker.class, WORK);
    assertEquals(id, first.worker());
    assertEquals(inbox, first.endpoint().inbox(), "chunked commands reach the worker through its node's inbox");
    first.endpoint().actor().tell(new WorkerMessage.RegistrationAccepted(id, new Endpoint<>(probe.ref(), inbox)));
    return first.endpoint();
  }

  /**
   * The next message of {@code type}, skipping registrations still in flight when the acceptance
   * arrived.
   */
  private static <T extends CoordinatorMessage> T next(
      TestProbe<CoordinatorMessage> probe, Class<T> type, Duration within) {
    List<CoordinatorMessage> seen =
        probe.fishForMessage(
            within,
            m ->
                type.isInstance(m)
                    ? FishingOutcomes.complete()
                    : m instanceof RegisterWorker
                        ? FishingOutcomes.continueAndIgnore()
                        : FishingOutcomes.fail("expected " + type.getSimpleName() + ", got " + m));
    return type.cast(seen.get(seen.size() - 1));
  }

  @Test
  void joinsAndServesInitTrainingAndEvaluationBitForBitWithTheEngine() throws Exception {
    TestProbe<CoordinatorMessage> coordinator = kit.createTestProbe(CoordinatorMessage.class);
    ActorRef<WorkerMessage> worker = registered("w1", coordinator).actor();
    worker.tell(WorkerMessage.JoinJob.of(JOB, spec, direct.modelHash()));
    JobJoined joined = next(coordinator, JobJoined.class, OPEN);
    assertEquals(direct.layout().toWire(), joined.layout(), "the layout, chunked through the inbox");

    worker.tell(new WorkerMessage.AssignInitShard(JOB, 0, 0, List.of(0), direct.layout().modules().stream()
        .map(m -> m.name()).toList()));
    InitShardAccumulated shard = next(coordinator, InitShardAccumulated.class, WORK);
    assertEquals(0, shard.shard());
    assertEquals(1, shard.microBatches());
    assertEquals(direct.computeShard(0, new int[] {0}), shard.lossSum());

    String module = direct.layout().modules().get(1).name();
    DMatrixRMaj x =
        org.ejml.dense.row.RandomMatrices_DDRM.rectangle(
            direct.layout().modules().get(1).in(), 16, new Random(3));
    worker.tell(
        new WorkerMessage.SketchRequest(JOB, 0, 0, module, SketchSide.RIGHT, List.of(0), TensorMatrices.f64(x)));
    SketchReply sketch = next(coordinator, SketchReply.class, WORK);
    assertEquals(direct.sketch(0, module, SketchSide.RIGHT, TensorMatrices.f64(x)), sketch.product());

    worker.tell(new WorkerMessage.ComputeGradients(JOB, 1, 0));
    coordinator.expectNoMessage(Duration.ofMillis(800)); // step 1 needs adapter version 0
    Map<String, TensorBlob> v0 = adapters(direct.layout(), direct.config().rank(), 5);
    worker.tell(new WorkerMessage.AdapterVersion(JOB, 0, v0));
    GradientsComputed got = next(coordinator, GradientsComputed.class, WORK);
    direct.setAdapters(0, v0);
    WorkerEngine.Gradients want = direct.gradients(0);
    assertEquals(1, got.step());
    assertEquals(0, got.microBatch());
    assertEquals(want.examples(), got.examples());
    assertEquals(want.lossSum(), got.lossSum());
    assertEquals(want.weight(), got.weight());
    assertEquals(want.metrics(), got.metrics());
    assertEquals(want.grads(), got.gradients(), "gradients equal the engine's, bit for bit");

    // With the DJL thread blocked, only a cached reply can arrive.
    Executor djl = kit.system().dispatchers().lookup(DispatcherSelector.fromConfig(WorkerActor.DJL_DISPATCHER));
    CountDownLatch release = new CountDownLatch(1);
    djl.execute(() -> {
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    try {
      worker.tell(new WorkerMessage.ComputeGradients(JOB, 1, 0));
      GradientsComputed again = next(coordinator, GradientsComputed.class, Duration.ofSeconds(10));
      assertEquals(got, again, "a repeated command is answered from the cache");
    } finally {
      release.countDown();
    }

    worker.tell(new WorkerMessage.AdapterVersion(JOB, 1, v0));
    worker.tell(new WorkerMessage.Evaluate(JOB, 1, 0));
    Evaluated eval = next(coordinator, Evaluated.class, WORK);
    Workload.EvalUnit e = direct.evaluate(0);
    assertEquals(e.lossSum(), eval.lossSum());
    assertEquals(e.weight(), eval.weight());
    assertEquals(e.sums(), eval.sums());
    assertEquals(e.examples(), eval.examples());

    worker.tell(new WorkerMessage.Evaluate(JOB, 0, 0)); // step 0: the model as opened, whatever was set since
    Evaluated opened = next(coordinator, Evaluated.class, WORK);
    direct.restoreInitial();
    Workload.EvalUnit zero = direct.evaluate(0);
    assertEquals(zero.lossSum(), opened.lossSum(), "the step-0 evaluation is of the initial adapters and head");
    assertEquals(zero.sums(), opened.sums());
    assertTrue(zero.lossSum() != e.lossSum(), "the initial model is not the one at version 1");

    worker.tell(new WorkerMessage.Evaluate(JOB, 1, 5));
    WorkFailed bad = next(coordinator, WorkFailed.class, WORK);
    assertEquals(new WorkItem.Evaluation(1, 5), bad.item());
    assertTrue(bad.reason().contains("evaluation batch 5"), bad.reason());

    worker.tell(new WorkerMessage.CancelJob(JOB, "done"));
    worker.tell(new WorkerMessage.ComputeGradients(JOB, 1, 1));
    WorkFailed gone = next(coordinator, WorkFailed.class, WORK);
    assertEquals(new WorkItem.Gradients(1, 1), gone.item());
    assertTrue(gone.reason().contains("not serving job job-a"), gone.reason());
  }

  @Test
  void gradientsAndEvaluationsAreBitIdenticalWithAndWithoutPrefetch() throws Exception {
    WorkerSettings config = WorkerSettings.fromConfig(kit.system().settings().config());
    assertEquals(new Prefetch(2, 1), config.prefetch(), "reference.conf: two units encoded ahead, one at a time");
    Map<String, TensorBlob> v0 = adapters(direct.layout(), direct.config().rank(), 9);
    Map<Prefetch, List<CoordinatorMessage>> replies = new LinkedHashMap<>();
    for (Prefetch prefetch : List.of(config.prefetch(), new Prefetch(3, 2), Prefetch.OFF)) {
      TestProbe<CoordinatorMessage> coordinator = kit.createTestProbe(CoordinatorMessage.class);
      String name = "p" + prefetch.ahead() + prefetch.parallelism();
      ActorRef<WorkerMessage> worker = registered(name, coordinator, config.withPrefetch(prefetch)).actor();
      worker.tell(WorkerMessage.JoinJob.of(JOB, spec, direct.modelHash()));
      next(coordinator, JobJoined.class, OPEN);
      for (int g = 0; g < 4; g++) worker.tell(new WorkerMessage.ComputeGradients(JOB, 1, g)); // wait for v0, encoded
      worker.tell(new WorkerMessage.AdapterVersion(JOB, 0, v0));
      List<CoordinatorMessage> got = new java.util.ArrayList<>();
      for (int g = 0; g < 4; g++) got.add(next(coordinator, GradientsComputed.class, WORK));
      worker.tell(new WorkerMessage.AdapterVersion(JOB, 1, v0));
      worker.tell(new WorkerMessage.Evaluate(JOB, 1, 0)); // the one batch of 26 evaluation examples
      got.add(next(coordinator, Evaluated.class, WORK));
      worker.tell(new WorkerMessage.CancelJob(JOB, "done"));
      replies.put(prefetch, got);
    }
    direct.setAdapters(0, v0);
    for (var e : replies.entrySet()) {
      List<CoordinatorMessage> got = e.getValue();
      for (int g = 0; g < 4; g++) {
        GradientsComputed r = (GradientsComputed) got.get(g);
        assertEquals(g, r.microBatch(), "units compute in submission order");
        assertEquals(direct.gradients(g).grads(), r.gradients(), e.getKey() + ": micro-batch " + g + ", bit for bit");
      }
      Evaluated r = (Evaluated) got.get(4);
      assertEquals(direct.evaluate(0).lossSum(), r.lossSum(), e.getKey() + ": evaluation, bit for bit");
      assertEquals(direct.evaluate(0).sums(), r.sums());
    }
  }

  @Test
  void registersUntilAcceptedAndRefusesWorkOfAJobItDidNotJoin() {
    TestProbe<CoordinatorMessage> coordinator = kit.createTestProbe(CoordinatorMessage.class);
    kit.spawn(WorkerActor.create(new WorkerId("w2"), "cpu", coordinator.ref(), inbox), "worker-w2");
    RegisterWorker first = coordinator.expectMessageClass(RegisterWorker.class, WORK);
    RegisterWorker second = coordinator.expectMessageClass(RegisterWorker.class, WORK);
    assertEquals(first, second, "registration is repeated until the coordinator answers");
    ActorRef<WorkerMessage> worker = first.endpoint().actor();
    worker.tell(new WorkerMessage.ComputeGradients(JOB, 1, 3)); // failures wait for the coordinator's endpoint
    worker.tell(new WorkerMessage.RegistrationAccepted(first.worker(), new Endpoint<>(coordinator.ref(), inbox)));
    WorkFailed failed = next(coordinator, WorkFailed.class, WORK);
    assertEquals(new WorkItem.Gradients(1, 3), failed.item());
    assertEquals(first.worker(), failed.worker());
  }

  private static Map<String, TensorBlob> adapters(EngineLayout layout, int r, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, TensorBlob> v = new LinkedHashMap<>();
    for (EngineLayout.ModuleShape m : layout.modules()) {
      v.put(m.name() + ".lora_A", floats(rnd, 0.1, r, m.in()));
      v.put(m.name() + ".lora_B", floats(rnd, 0.02, m.out(), r));
    }
    long[] ws = layout.head().get("classifier.weight").shape();
    v.put("classifier.weight", floats(rnd, 0.05, ws[0], ws[1]));
    v.put("classifier.bias", TensorBlob.ofFloats(new long[] {ws[0]}, floats(rnd, 0.01, 1, ws[0]).toFloats()));
    return v;
  }

  private static TensorBlob floats(SplittableRandom rnd, double scale, long rows, long cols) {
    float[] f = new float[Math.toIntExact(rows * cols)];
    for (int i = 0; i < f.length; i++) f[i] = (float) ((rnd.nextDouble() - 0.5) * 2 * scale);
    return TensorBlob.ofFloats(new long[] {rows, cols}, f);
  }

  @Test
  void aJobWhoseModelCannotBeOpenedIsAnsweredWithAJoinFailureNamingTheFolder() throws IOException {
    TestProbe<CoordinatorMessage> probe = kit.createTestProbe();
    Endpoint<WorkerMessage> worker = registered("no-model", probe);
    java.nio.file.Path missing = java.nio.file.Files.createTempDirectory("no-model").resolve("llama-missing");
    Map<String, Object> m = new HashMap<>();
    m.put("model", missing.toString());
    worker.actor().tell(WorkerMessage.JoinJob.of(JOB, JobSpec.of(m), "unverified"));
    CoordinatorMessage.WorkFailed f = probe.expectMessageClass(CoordinatorMessage.WorkFailed.class, OPEN);
    assertEquals(new dev.loraone.protocol.wire.WorkItem.Join(missing.toString()), f.item());
    assertTrue(f.reason().contains(missing.toString()), f.reason());
  }
}
