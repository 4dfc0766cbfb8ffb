package dev.loraone.worker.actor;

import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.ChunkSender;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferOutcome;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.CoordinatorMessage.Heartbeat;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.CoordinatorMessage.RegisterWorker;
import dev.loraone.protocol.wire.CoordinatorMessage.WorkFailed;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WireRegistry;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.protocol.wire.WorkerMessage;
import dev.loraone.protocol.wire.WorkerMessage.AdapterVersion;
import dev.loraone.protocol.wire.WorkerMessage.AssignInitShard;
import dev.loraone.protocol.wire.WorkerMessage.CancelJob;
import dev.loraone.protocol.wire.WorkerMessage.ComputeGradients;
import dev.loraone.protocol.wire.WorkerMessage.Evaluate;
import dev.loraone.protocol.wire.WorkerMessage.Export;
import dev.loraone.protocol.wire.WorkerMessage.JoinJob;
import dev.loraone.protocol.wire.WorkerMessage.RegistrationAccepted;
import dev.loraone.protocol.wire.WorkerMessage.RegistrationRejected;
import dev.loraone.protocol.wire.WorkerMessage.SketchRequest;
import dev.loraone.worker.actor.UnitPipeline.Unit;
import dev.loraone.worker.train.WorkerEngine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.stream.Materializer;

/**
 * A worker: registers with the coordinator, then serves one job at a time as a thin shell around
 * {@link WorkerEngine}. Every engine call runs on the dispatcher {@value #DJL_DISPATCHER} and comes
 * back as a message; the actor itself keeps addresses, adapter versions and finished results.
 *
 * <pre>
 *   coordinator                              worker                         engine (DJL thread)
 *   (start, every register-retry)      &lt;-    RegisterWorker(endpoint)
 *   RegistrationAccepted(endpoint)     -&gt;    replies go there; Heartbeat every heartbeat-interval
 *   JoinJob(spec, model hash)          -&gt;                                   open; a SHA-256 hash is checked
 *                                      &lt;=    JobJoined(layout)
 *   AssignInitShard(g, s, micro-batches, modules) -&gt;                        computeShard (group g's sums only)
 *                                      &lt;-    InitShardAccumulated
 *   SketchRequest(g, round, layer, [s]) -&gt;   one unit per shard             sketch
 *                                      &lt;=    SketchReply per shard
 *   AdapterVersion(v)                  -&gt;    kept (keep-versions); first one releases the init shards
 *   ComputeGradients(t, g)             -&gt;    waits for version t-1          setAdapters(t-1), gradients(g)
 *                                      &lt;=    GradientsComputed(loss term, weight, metrics: correct | tokens)
 *   Evaluate(t, b)                     -&gt;    waits for version t            setAdapters(t), evaluate(b)
 *   Evaluate(0, b)                     -&gt;    the model as opened (step 0)   restoreInitial(), evaluate(b)
 *                                      &lt;-    Evaluated(loss sum, weight, sums: correct | tokens)
 *   Export(t, dir, [onnx])             -&gt;    waits for version t            exportOnnx(dir)
 *                                      &lt;-    Exported(files: model.onnx, tokenizer.json (, config.json) -&gt;
 *                                          sha256)
 *   CancelJob                          -&gt;    engine closed, results dropped
 *   (JoinJob that cannot open)         &lt;-    WorkFailed(Join, e.g. the model file or key at fault)
 *   (any unit that throws)             &lt;-    WorkFailed(item, exception message)
 * </pre>
 *
 * {@code =>} replies go through {@link Replies}, a {@link ChunkSender} to the coordinator's transfer inbox when they
 * hold more than {@code direct-send-limit} tensor bytes.
 *
 * <p>Idempotent by address: each unit of work is named by its {@link WorkItem} (shard; round,
 * layer, shard; step, micro-batch; step, batch; step). A command for a unit that is running is
 * dropped (its reply is coming); one for a finished unit is answered from the last {@code
 * remember-results} replies without touching the engine. A new {@code AdapterVersion} with other
 * values for a step it already held forgets the results computed from the old ones.
 *
 * <p>One DJL thread per JVM: DJL's PyTorch engine allows a single open gradient collector, so the
 * dispatcher is a fixed pool of one thread that every WorkerActor of the JVM shares. A job's units
 * run through its {@link UnitPipeline}, a bounded stream: each unit's input (tokens, batch arrays)
 * is encoded on {@value #ENCODE_DISPATCHER} up to {@code prefetch} units ahead of the one computing
 * on the DJL thread, where the units compute one at a time, in submission order; a command waiting
 * for its adapter version is encoded while it waits. {@code prefetch = 0} encodes each unit on the
 * DJL thread right before its compute. An address encodes to the same input on any thread, so the
 * replies are bit-identical either way. Mutable state in an {@link AbstractBehavior}, like {@code
 * TransferInbox}: the job's bookkeeping ({@link JobSession}) is touched only on the actor's thread,
 * the engine's encode methods and its sketches (plain Java, no DJL) on the encode dispatcher, the
 * rest of it only on the DJL thread; a job's units run one at a time whichever thread they take.
 */
public final class WorkerActor extends AbstractBehavior<Object> {
  /** The dispatcher every DJL call runs on (gpu-worker's {@code reference.conf}). */
  public static final String DJL_DISPATCHER = "loraone.djl-dispatcher";
  /** The dispatcher that encodes units ahead of their compute (gpu-worker's {@code reference.conf}). */
  public static final String ENCODE_DISPATCHER = "loraone.encode-dispatcher";
  /** A SHA-256 in hex: a {@code JoinJob} hash of another form (e.g. {@code unverified}) skips the check. */
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  /**
   * Leave gracefully (the node is leaving the cluster): take no new work, let the units already
   * handed to the DJL thread finish and send their results, then answer and stop. The coordinator
   * reassigns whatever else it had asked of this worker when it sees the worker stop.
   */
  public record Drain(ActorRef<org.apache.pekko.Done> replyTo) {}

  // ---- internal protocol: engine results and timers, all on this actor's own thread ----

  private enum Tick { REGISTER, HEARTBEAT }

  /** The engine of session {@code generation} opened (or failed to). */
  private record Opened(long generation, WorkerEngine engine, Throwable failure) {}

  /** One unit of session {@code generation} finished with {@code reply} or {@code failure}. */
  private record Finished(long generation, WorkItem item, CoordinatorMessage reply, Throwable failure) {}

  private final WorkerId id;
  private final String device;
  private final Map<String, String> runtime;
  private final ActorRef<CoordinatorMessage> registrar;
  private final ActorRef<TransferMessage> inbox;
  private final WorkerSettings settings;
  private final TimerScheduler<Object> timers;
  private final Executor djl;
  private final Executor encoder;
  private final Materializer materializer;
  private final Replies replies;
  private JobSession session;
  private long generations;
  private long heartbeats;
  /** Units handed to the job's pipeline whose Finished has not come back yet. */
  private int inFlight;
  /** Set by {@link Drain}: who to answer once {@link #inFlight} is 0. */
  private ActorRef<org.apache.pekko.Done> drained;

  /**
   * A worker with the settings of the actor system's config and the plain JVM facts as its runtime.
   *
   * @param coordinator where to register (the coordinator, or a front that forwards to it)
   * @param inbox this node's {@code TransferInbox}, published in the worker's endpoint
   */
  public static Behavior<WorkerMessage> create(WorkerId id, String device, ActorRef<CoordinatorMessage> coordinator,
      ActorRef<TransferMessage> inbox) {
    return create(id, device, jvmFacts(), coordinator, inbox, null);
  }

  /**
   * @param runtime facts reported in {@code RegisterWorker} (e.g. {@code RuntimeInfo.probe().entries()})
   * @param settings null for {@link WorkerSettings#fromConfig} of the actor system's config
   */
  public static Behavior<WorkerMessage> create(WorkerId id, String device, Map<String, String> runtime,
      ActorRef<CoordinatorMessage> coordinator, ActorRef<TransferMessage> inbox, WorkerSettings settings) {
    return Behaviors.<Object>setup(
            ctx ->
                Behaviors.withTimers(
                    timers ->
                        new WorkerActor(
                            ctx,
                            timers,
                            id,
                            device,
                            runtime,
                            coordinator,
                            inbox,
                            settings != null
                                ? settings
                                : WorkerSettings.fromConfig(ctx.getSystem().settings().config()))))
        .unsafeCast();
  }

  private WorkerActor(
      ActorContext<Object> ctx,
      TimerScheduler<Object> timers,
      WorkerId id,
      String device,
      Map<String, String> runtime,
      ActorRef<CoordinatorMessage> registrar,
      ActorRef<TransferMessage> inbox,
      WorkerSettings settings) {
    super(ctx);
    this.id = id;
    this.device = device;
    this.runtime = Map.copyOf(runtime);
    this.registrar = registrar;
    this.inbox = inbox;
    this.settings = settings;
    this.timers = timers;
    this.djl = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(DJL_DISPATCHER));
    this.encoder = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(ENCODE_DISPATCHER));
    this.materializer = Materializer.matFromSystem(ctx.getSystem()); // the pipeline drains even after this actor stops
    this.replies = new Replies(ctx, id, settings);
    register();
    timers.startTimerWithFixedDelay(Tick.REGISTER, settings.registerRetry());
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(RegistrationAccepted.class, this::onAccepted)
        .onMessage(RegistrationRejected.class, this::onRejected)
        .onMessage(Drain.class, this::onDrain)
        .onMessage(WorkerMessage.class, m -> drained != null ? this : onWork(m))
        .onMessage(Opened.class, this::onOpened)
        .onMessage(Finished.class, f -> {
          inFlight--;
          Behavior<Object> next = onFinished(f);
          return drained != null && inFlight == 0 ? drainedNow() : next;
        })
        .onMessage(TransferOutcome.class, o -> {
          replies.onTransferOutcome(o);
          return this;
        })
        .onMessageEquals(Tick.REGISTER, this::onRegisterTick)
        .onMessageEquals(Tick.HEARTBEAT, this::onHeartbeatTick)
        .onSignal(PostStop.class, s -> {
          if (session != null) close(session, "worker stopped");
          return this;
        })
        .build();
  }

  private Behavior<Object> onDrain(Drain d) {
    drained = d.replyTo();
    getContext().getLog().info("worker {} drains: {} unit(s) still running, no new work taken", id, inFlight);
    return inFlight == 0 ? drainedNow() : this;
  }

  private Behavior<Object> drainedNow() {
    drained.tell(org.apache.pekko.Done.getInstance());
    return Behaviors.stopped();
  }

  // ---- registration ----

  private void register() {
    registrar.tell(new RegisterWorker(id, WireRegistry.PROTOCOL_VERSION, device, runtime,
        new Endpoint<>(getContext().getSelf().narrow(), inbox)));
  }

  private Behavior<Object> onRegisterTick() {
    if (replies.coordinator() == null) register();
    return this;
  }

  private Behavior<Object> onAccepted(RegistrationAccepted a) {
    if (!a.worker().equals(id)) return this;
    timers.cancel(Tick.REGISTER);
    if (!settings.heartbeatInterval().isZero() && !timers.isTimerActive(Tick.HEARTBEAT)) {
      timers.startTimerWithFixedDelay(Tick.HEARTBEAT, settings.heartbeatInterval());
    }
    replies.connect(a.coordinator());
    return this;
  }

  private Behavior<Object> onRejected(RegistrationRejected r) {
    if (!r.worker().equals(id)) return this;
    getContext().getLog().error("worker {}: registration rejected: {}", id, r.reason());
    return Behaviors.stopped();
  }

  private Behavior<Object> onHeartbeatTick() {
    if (replies.coordinator() != null) replies.coordinator().actor().tell(new Heartbeat(id, heartbeats++));
    return this;
  }

  // ---- commands ----

  private Behavior<Object> onWork(WorkerMessage m) {
    if (m instanceof JoinJob j) onJoin(j);
    else if (m instanceof AssignInitShard a) onAssignInitShard(a);
    else if (m instanceof SketchRequest r) onSketch(r);
    else if (m instanceof AdapterVersion v) onAdapterVersion(v);
    else if (m instanceof ComputeGradients c) onComputeGradients(c);
    else if (m instanceof Evaluate e) onEvaluate(e);
    else if (m instanceof Export x) onExport(x);
    else if (m instanceof CancelJob c) onCancel(c);
    return this;
  }

  private void onJoin(JoinJob j) {
    JobSession s = session;
    if (s != null && s.job.equals(j.job()) && s.failure == null) {
      if (s.joined != null) send(s.joined); // a repeated join: the same layout again
      return; // still opening: JobJoined follows
    }
    if (s != null) close(s, s.job.equals(j.job()) ? "joining again after a failed join" : "replaced by job " + j.job());
    long generation = ++generations;
    JobSpec spec;
    CompletableFuture<WorkerEngine> engine;
    try {
      JobSpec parsed = j.parsedSpec();
      spec = parsed;
      engine = CompletableFuture.supplyAsync(() -> open(parsed, j.baseModelHash(), device), djl);
    } catch (RuntimeException e) { // a spec this worker cannot read fails the join like a model it cannot load
      spec = null;
      engine = CompletableFuture.failedFuture(e);
    }
    ActorRef<Object> self = getContext().getSelf();
    UnitPipeline pipeline = new UnitPipeline(engine, settings.prefetch(), settings.maxWaiting(), encoder, djl,
        materializer, (item, reply, failure) -> self.tell(new Finished(generation, item, reply, failure)));
    session = new JobSession(j.job(), generation, engine, pipeline, settings.rememberResults(),
        settings.keepVersions());
    session.model = spec == null ? "(unreadable spec)" : spec.getString("model");
    getContext().pipeToSelf(engine, (e, failure) -> new Opened(generation, e, failure));
  }

  private static WorkerEngine open(JobSpec spec, String baseModelHash, String device) {
    WorkerEngine engine;
    try {
      engine = WorkerEngine.open(spec, device);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (SHA256.matcher(baseModelHash).matches() && !baseModelHash.equals(engine.modelHash())) {
      engine.close();
      throw new IllegalArgumentException("base model mismatch: the coordinator expects " + baseModelHash
          + " but this worker's " + engine.config().model() + " hashes to " + engine.modelHash());
    }
    return engine;
  }

  private Behavior<Object> onOpened(Opened o) {
    JobSession s = session;
    if (s == null || s.generation != o.generation()) return this; // a job left: its pipeline closes the engine
    if (o.failure() != null) {
      s.failure = reason(o.failure());
      getContext().getLog().error("worker {} could not join job {}: {}", id, s.job, s.failure);
      fail(s.job, new WorkItem.Join(s.model), s.failure); // the coordinator names it in the job's status
      return this;
    }
    s.joined = new JobJoined(s.job, id, o.engine().layout().toWire());
    send(s.joined);
    return this;
  }

  private void onAssignInitShard(AssignInitShard a) {
    run(a.job(), WorkUnits.initShard(id, a));
  }

  private void onSketch(SketchRequest r) {
    for (Unit u : WorkUnits.sketches(id, r)) run(r.job(), u);
  }

  private void onAdapterVersion(AdapterVersion v) {
    JobSession s = session;
    if (s == null || !s.job.equals(v.job())) {
      getContext().getLog().debug("worker {}: adapter version {} of job {} it does not serve", id, v.step(), v.job());
      return;
    }
    if (!s.hold(v.step(), v.adapters())) return; // redelivered
    if (s.releaseShardsOnce()) s.engine.thenAcceptAsync(WorkerEngine::releaseShards, djl);
    s.takeWaiting().forEach(this::onWork);
  }

  private void onComputeGradients(ComputeGradients c) {
    if (c.step() == 0) {
      fail(c.job(), new WorkItem.Gradients(c.step(), c.microBatch()),
          "ComputeGradients steps count from 1: step t uses adapter version t-1");
      return;
    }
    atVersion(c, c.job(), c.step() - 1, WorkUnits.gradients(id, c));
  }

  private void onEvaluate(Evaluate c) {
    Unit unit = WorkUnits.evaluation(id, c);
    if (c.step() == 0) run(c.job(), unit); // the model as the job opened it, before any init or adapter version
    else atVersion(c, c.job(), c.step(), unit);
  }

  private void onExport(Export c) {
    Unit unit = WorkUnits.export(id, c);
    if (WorkUnits.onnx(c)) atVersion(c, c.job(), c.step(), unit);
    else run(c.job(), unit); // the PEFT adapter is the coordinator's to write, from its masters
  }

  private void onCancel(CancelJob c) {
    if (session != null && session.job.equals(c.job())) {
      close(session, c.reason());
      session = null;
    }
  }

  // ---- running units ----

  /**
   * Runs {@code unit} once the worker holds adapter version {@code version}, the adapters set first;
   * until then {@code command} waits, and the unit's input is encoded meanwhile (up to prefetch of them).
   */
  private void atVersion(WorkerMessage command, JobId job, long version, Unit unit) {
    WorkItem item = unit.item();
    JobSession s = serving(job, item);
    if (s == null || answered(s, item) || s.isWaiting(item)) return;
    Map<String, TensorBlob> values = s.version(version);
    if (values != null) {
      start(s, new Unit(item, unit.encode(), (e, in) -> {
        if (e.adapterStep() != version || !values.equals(e.adapters())) e.setAdapters(version, values);
        return unit.compute().apply(e, in);
      }));
    } else if (s.dropped(version)) {
      fail(
          job,
          item,
          "adapter version "
              + version
              + " is no longer held by worker "
              + id
              + " (it holds "
              + s.heldVersions()
              + ")");
    } else if (!s.await(command, item, settings.maxWaiting())) {
      fail(job, item, s.waitingCount() + " commands already wait for adapter versions on worker " + id);
    } else if (s.waitingCount() <= settings.prefetch().ahead()) {
      s.pipeline.encodeAhead(unit);
    }
  }

  private void run(JobId job, Unit unit) {
    JobSession s = serving(job, unit.item());
    if (s != null && !answered(s, unit.item())) start(s, unit);
  }

  /** The session of {@code job}, or null after telling the coordinator this worker does not serve it. */
  private JobSession serving(JobId job, WorkItem item) {
    if (session != null && session.job.equals(job)) return session;
    fail(
        job,
        item,
        "worker "
            + id
            + " is not serving job "
            + job
            + (session == null ? "" : " (it serves " + session.job + ")"));
    return null;
  }

  /** True when {@code item} is running (its reply is coming) or finished (answered again now). */
  private boolean answered(JobSession s, WorkItem item) {
    CoordinatorMessage reply = s.reply(item);
    if (reply != null) send(reply);
    return reply != null || s.isRunning(item);
  }

  private void start(JobSession s, Unit unit) {
    if (!s.pipeline.run(unit)) {
      fail(s.job, unit.item(), settings.maxWaiting() + " units already queued on worker " + id);
      return;
    }
    s.started(unit.item());
    inFlight++;
  }

  private Behavior<Object> onFinished(Finished f) {
    JobSession s = session;
    if (s == null || s.generation != f.generation()) return this; // a cancelled or replaced job
    s.finished(f.item(), f.reply());
    if (f.failure() != null) {
      fail(s.job, f.item(), s.failure != null ? "job " + s.job + " was not joined: " + s.failure : reason(f.failure()));
    } else {
      send(f.reply());
    }
    return this;
  }

  private void close(JobSession s, String why) {
    s.pipeline.close(); // the engine closes after the units already queued
    getContext().getLog().info("worker {} leaves job {}: {}", id, s.job, why);
  }

  // ---- replies ----

  private void fail(JobId job, WorkItem item, String reason) {
    send(new WorkFailed(job, id, item, reason));
  }

  private void send(CoordinatorMessage m) {
    replies.send(m);
  }

  /** The failure's own message, without the future's wrappers. */
  static String reason(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof UncheckedIOException)
        && c.getCause() != null) c = c.getCause();
    return c.getMessage() != null ? c.getMessage() : c.getClass().getName();
  }

  private static Map<String, String> jvmFacts() {
    Runtime rt = Runtime.getRuntime();
    return Map.of("java", System.getProperty("java.version"), "cpus", Integer.toString(rt.availableProcessors()),
        "max heap", (rt.maxMemory() >> 20) + " MiB");
  }
}
