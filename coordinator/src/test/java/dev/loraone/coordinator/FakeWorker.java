package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.ChunkSender;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.protocol.wire.WireRegistry;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.ejml.data.DMatrixRMaj;

/**
 * A worker without a model: answers every coordinator request with {@link Synthetic}'s
 * deterministic tensors, honouring the worker contract (gradients of step t only under adapter
 * version t-1, evaluation of step t under version t, whatever order the messages arrive in).
 */
final class FakeWorker extends AbstractBehavior<WorkerMessage> {

  /**
   * @param dieAtStep stop (without answering) on the first ComputeGradients of this step; -1: never
   * @param stallAtStep never answer ComputeGradients of this step; -1: never
   * @param nanAt a micro-batch whose gradient holds a NaN; -1: none
   * @param failAt a micro-batch answered with WorkFailed the first {@code failTimes} times it is
   *     asked for; -1: none
   * @param layout what to answer JoinJob with
   * @param chunkedUploads send JobJoined and SketchReply through ChunkSender to the coordinator's
   *     inbox
   */
  record Options(
      String id,
      long dieAtStep,
      long stallAtStep,
      long nanAt,
      long failAt,
      int failTimes,
      Map<String, TensorBlob> layout,
      boolean chunkedUploads) {
    static Options plain(String id, Map<String, TensorBlob> layout) {
      return new Options(id, -1, -1, -1, -1, 0, layout, false);
    }
  }

  /** What the worker received, for the test to compare: adapter versions by step (a re-sent version must be equal). */
  static final class Record {
    final Map<Long, Map<String, TensorBlob>> versions = new ConcurrentHashMap<>();
    final List<String> conflicts = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<String> rejections = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile int initShardsAssigned;
  }

  private final Options o;
  private final Endpoint<CoordinatorMessage> coordinator;
  private final ActorRef<TransferMessage> inbox;
  private final Record record;
  private final Map<Integer, List<DMatrixRMaj>> shards = new HashMap<>();
  private final Map<Long, Map<String, TensorBlob>> versions = new HashMap<>();
  private final List<WorkerMessage> waiting = new ArrayList<>();
  private int failed;

  static Behavior<WorkerMessage> create(
      Options o,
      Endpoint<CoordinatorMessage> coordinator,
      ActorRef<TransferMessage> inbox,
      Record record) {
    return Behaviors.setup(ctx -> new FakeWorker(ctx, o, coordinator, inbox, record));
  }

  private FakeWorker(
      ActorContext<WorkerMessage> ctx,
      Options o,
      Endpoint<CoordinatorMessage> coordinator,
      ActorRef<TransferMessage> inbox,
      Record record) {
    super(ctx);
    this.o = o;
    this.coordinator = coordinator;
    this.inbox = inbox;
    this.record = record;
    coordinator
        .actor()
        .tell(
            new CoordinatorMessage.RegisterWorker(
                id(),
                WireRegistry.PROTOCOL_VERSION,
                "cpu",
                Map.of("fake", "true"),
                new Endpoint<>(ctx.getSelf(), inbox)));
  }

  private WorkerId id() {
    return new WorkerId(o.id());
  }

  @Override
  public Receive<WorkerMessage> createReceive() {
    return newReceiveBuilder()
        .onMessage(
            WorkerMessage.RegistrationRejected.class,
            r -> {
              record.rejections.add(r.reason());
              return this;
            })
        .onMessage(WorkerMessage.JoinJob.class, this::onJoin)
        .onMessage(WorkerMessage.AssignInitShard.class, this::onShard)
        .onMessage(WorkerMessage.SketchRequest.class, this::onSketch)
        .onMessage(WorkerMessage.AdapterVersion.class, this::onVersion)
        .onMessage(WorkerMessage.ComputeGradients.class, this::onGradients)
        .onMessage(WorkerMessage.Evaluate.class, this::onEvaluate)
        .onMessage(
            WorkerMessage.Export.class,
            x -> {
              reply(
                  new CoordinatorMessage.Exported(
                      x.job(),
                      id(),
                      x.step(),
                      x.destination(),
                      Map.of("model.onnx", "cd".repeat(32))));
              return this;
            })
        .onMessage(WorkerMessage.CancelJob.class, c -> Behaviors.stopped())
        .onAnyMessage(m -> this)
        .build();
  }

  private Behavior<WorkerMessage> onJoin(WorkerMessage.JoinJob j) {
    reply(new CoordinatorMessage.JobJoined(j.job(), id(), o.layout()));
    return this;
  }

  private Behavior<WorkerMessage> onShard(WorkerMessage.AssignInitShard a) {
    record.initShardsAssigned++;
    List<DMatrixRMaj> g = new ArrayList<>();
    for (int m = 0; m < Synthetic.MODULES.size(); m++) g.add(Synthetic.shardGradient(m, a.microBatches()));
    shards.put(a.shard(), g);
    reply(new CoordinatorMessage.InitShardAccumulated(a.job(), id(), a.group(), a.shard(), a.microBatches().size(),
        1.0));
    return this;
  }

  private Behavior<WorkerMessage> onSketch(WorkerMessage.SketchRequest s) {
    int m = Synthetic.MODULES.indexOf(s.layer());
    long[] shape = s.operand().shape();
    DMatrixRMaj x = TensorMatrices.matrix((int) shape[0], (int) shape[1], s.operand());
    for (int shard : s.shards()) {
      DMatrixRMaj g = shards.get(shard).get(m);
      DMatrixRMaj p = s.side() == SketchSide.RIGHT ? Matrices.mult(g, x) : Matrices.multTransA(g, x);
      reply(new CoordinatorMessage.SketchReply(s.job(), id(), s.group(), s.round(), shard, s.layer(),
          TensorMatrices.f64(p)));
    }
    return this;
  }

  private Behavior<WorkerMessage> onVersion(WorkerMessage.AdapterVersion v) {
    Map<String, TensorBlob> before = record.versions.putIfAbsent(v.step(), v.adapters());
    if (before != null && !before.equals(v.adapters()))
      record.conflicts.add(o.id() + ": version " + v.step() + " changed");
    versions.put(v.step(), v.adapters());
    List<WorkerMessage> ready = new ArrayList<>(waiting);
    waiting.clear();
    for (WorkerMessage w : ready) {
      Behavior<WorkerMessage> b =
          w instanceof WorkerMessage.ComputeGradients g
              ? onGradients(g)
              : onEvaluate((WorkerMessage.Evaluate) w);
      if (b != this) return b;
    }
    return this;
  }

  private Behavior<WorkerMessage> onGradients(WorkerMessage.ComputeGradients c) {
    if (c.step() == o.dieAtStep()) return Behaviors.stopped();
    if (c.step() == o.stallAtStep()) return this;
    Map<String, TensorBlob> v = versions.get(c.step() - 1);
    if (v == null) {
      waiting.add(c);
      return this;
    }
    long g = c.microBatch();
    if (g == o.failAt() && failed < o.failTimes()) {
      failed++;
      reply(
          new CoordinatorMessage.WorkFailed(
              c.job(),
              id(),
              new WorkItem.Gradients(c.step(), c.microBatch()),
              "simulated CUDA error"));
      return this;
    }
    reply(
        new CoordinatorMessage.GradientsComputed(
            c.job(),
            id(),
            c.step(),
            c.microBatch(),
            Synthetic.EXAMPLES_PER_MICRO_BATCH,
            1.0,
            Synthetic.loss(g),
            Map.of("correct", (double) (g % 3)),
            Synthetic.gradients(v, g, g == o.nanAt())));
    return this;
  }

  private Behavior<WorkerMessage> onEvaluate(WorkerMessage.Evaluate e) {
    if (!versions.containsKey(e.step())) {
      waiting.add(e);
      return this;
    }
    int examples = Math.min(32, Synthetic.EVAL_EXAMPLES - 32 * e.batch());
    reply(
        new CoordinatorMessage.Evaluated(
            e.job(),
            id(),
            e.step(),
            e.batch(),
            examples,
            examples,
            0.5 * examples + e.step(),
            Map.of("correct", (double) (examples / 2))));
    return this;
  }

  private void reply(CoordinatorMessage m) {
    boolean big = m instanceof CoordinatorMessage.JobJoined || m instanceof CoordinatorMessage.SketchReply;
    if (o.chunkedUploads() && big) {
      getContext().spawnAnonymous(ChunkSender.create(TransferId.random(), m, coordinator.actor(), coordinator.inbox(),
          getContext().getSystem().ignoreRef(), TransferSettings.of(getContext().getSystem())));
    } else {
      coordinator.actor().tell(m);
    }
  }
}
