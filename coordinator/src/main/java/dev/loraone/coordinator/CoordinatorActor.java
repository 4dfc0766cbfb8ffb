package dev.loraone.coordinator;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.coordinator.state.CoordinatorState;
import dev.loraone.coordinator.state.Event;
import dev.loraone.coordinator.state.JobPlan;
import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.transport.ChunkSender;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferOutcome;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.CoordinatorMessage.RegisterWorker;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerMessage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.slf4j.Logger;

/**
 * Coordinates one fine-tuning job over any number of workers (DESIGN.md sections 4-6; the message
 * sequence is in ARCHITECTURE.md, "One job: actors and messages"). Decisions are {@link
 * CoordinatorState}'s; this actor turns worker messages into its events and carries out its effects
 * ({@link RunningJob}), with the arithmetic of lora-core's {@code ShardedGradientInit} and {@code
 * AdapterTrainer}, so the adapter is bit-identical for any number of workers, joins, leaves and
 * coordinator restarts, and equal to the single-process fine-tune's.
 *
 * <pre>
 *   awaitingLayout --first JobJoined--> running --Finished effect--> closing --writes flushed--> stopped
 *
 *   running: WAITING_FOR_WORKERS -> GRADIENT_ACCUMULATION -> SVD_INIT -> TRAINING <-> EVALUATION -> EXPORT -> DONE
 *            WAITING_FOR_WORKERS -> TRAINING | EVALUATION      init ran on the workers, or resumed from
 *                outDir/checkpoint
 *            any phase -> FAILED                               divergence, cancel, bad layout or result, a unit
 *                failing 3 times
 * </pre>
 *
 * Files under {@code outDir}: {@code checkpoint/} (after the init, every {@code checkpoint.every}
 * steps and after the last; a coordinator created on it resumes there), {@code adapter/} (PEFT
 * adapter and {@code labels.json}); the exporting worker writes ONNX into {@code model/}.
 */
public final class CoordinatorActor {
  private CoordinatorActor() {}

  /** What the coordinator accepts. Workers talk to its {@link Endpoint}, not to this type. */
  public sealed interface Command {}

  /** A worker's message as the wire endpoint received it (told directly, or reassembled by the inbox). */
  public record WrappedCoordinatorMessage(CoordinatorMessage message) implements Command {}

  /**
   * Asks for the endpoint workers register at (the runtime hands it to workers, or they find it by
   * {@link #SERVICE_KEY}).
   */
  public record GetEndpoint(ActorRef<Endpoint<CoordinatorMessage>> replyTo) implements Command {}

  /** Ends the job as failed with {@code reason}; the last checkpoint stays for a later resume. */
  public record Cancel(String reason) implements Command {}

  /**
   * Writes a checkpoint of the last applied step now (CoordinatedShutdown's task on a cluster node) and
   * answers once everything asked of the writer before it is on disk. Before the init is done there is
   * nothing to save beyond what is on disk already; the answer comes all the same.
   */
  public record CheckpointNow(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  private record WorkerStopped(String worker, ActorRef<WorkerMessage> actor) implements Command {}

  private record WrappedTransferOutcome(TransferOutcome outcome) implements Command {}

  private record WrappedWritten(Writer.Written written) implements Command {}

  /** {@code workers.wait-seconds} passed with no worker in the job. */
  private enum NoWorkers implements Command { TIMEOUT }

  /** Coordinators register their wire endpoint here, so workers on any node can find them. */
  public static final ServiceKey<CoordinatorMessage> SERVICE_KEY =
      ServiceKey.create(CoordinatorMessage.class, "loraone-coordinator");

  /**
   * A scheduled coordinator (the service's) registers here instead: a worker node serves it only after the
   * scheduler placed the job on that node ({@code NodeMessage.Serve}), not because it is listed.
   */
  public static final ServiceKey<CoordinatorMessage> PLACED_KEY =
      ServiceKey.create(CoordinatorMessage.class, "loraone-placed-coordinator");

  /** {@code JoinJob}'s model hash before any worker reported one (the layouts are compared, hash included). */
  static final String UNVERIFIED_MODEL = "unverified";
  static final String CHECKPOINT_DIR = "checkpoint";

  /**
   * @param outDir where checkpoints and the adapter go; a checkpoint already there is resumed
   * @param inbox this node's {@code TransferInbox}, for workers' chunked uploads
   * @param listener gets the job's {@link JobEvent}s, ending with one {@code Finished} or {@code Failed}
   */
  public static Behavior<Command> create(JobId job, JobSpec spec, Path outDir, ActorRef<TransferMessage> inbox,
      ActorRef<JobEvent> listener) {
    return create(job, spec, outDir, inbox, listener, SERVICE_KEY);
  }

  /** As above, its endpoint listed under {@code key} ({@link #SERVICE_KEY} or {@link #PLACED_KEY}). */
  public static Behavior<Command> create(JobId job, JobSpec spec, Path outDir, ActorRef<TransferMessage> inbox,
      ActorRef<JobEvent> listener, ServiceKey<CoordinatorMessage> key) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  JobSetup setup;
                  Checkpoint resume;
                  try {
                    setup = JobSetup.of(spec);
                    resume = Checkpoint.read(outDir.resolve(CHECKPOINT_DIR)).orElse(null);
                    if (resume != null && !resume.specSha256().equals(setup.specSha256())) {
                      throw new IllegalArgumentException(
                          "the checkpoint in "
                              + outDir.resolve(CHECKPOINT_DIR)
                              + " belongs to another job spec (SHA-256 "
                              + resume.specSha256()
                              + ", this job "
                              + setup.specSha256()
                              + "); remove it or choose another output folder");
                    }
                  } catch (IllegalArgumentException | IOException e) {
                    listener.tell(new JobEvent.Failed(job, e.getMessage()));
                    return Behaviors.stopped();
                  }
                  ActorRef<CoordinatorMessage> wire =
                      ctx.messageAdapter(CoordinatorMessage.class, WrappedCoordinatorMessage::new);
                  ctx.getSystem().receptionist().tell(Receptionist.register(key, wire));
                  Job j =
                      new Job(
                          ctx,
                          job,
                          spec,
                          setup,
                          outDir,
                          listener,
                          new Endpoint<>(wire, inbox),
                          ctx.spawn(Writer.create(), "writer", DispatcherSelector.blocking()),
                          ctx.messageAdapter(Writer.Written.class, WrappedWritten::new),
                          ctx.messageAdapter(TransferOutcome.class, WrappedTransferOutcome::new),
                          TransferSettings.of(ctx.getSystem()),
                          ctx.getSystem()
                              .settings()
                              .config()
                              .getBytes("loraone.coordinator.direct-send-limit"),
                          ctx.getSystem()
                              .settings()
                              .config()
                              .getBoolean("loraone.coordinator.chunk-in-jvm"),
                          resume,
                          timers,
                          Duration.ofSeconds(spec.getInt("workers.wait-seconds")),
                          new long[2]);
                  listener.tell(
                      new JobEvent.PhaseChanged(
                          job,
                          Phase.WAITING_FOR_WORKERS,
                          resume == null
                              ? "waiting for workers"
                              : "resuming after step " + resume.step()));
                  j.awaitWorkers(true);
                  return j.awaitingLayout(Workers.none(), null);
                }));
  }

  static void reportCheckpoint(Ports io, Writer.CheckpointWritten c) {
    if (c.failure() == null) io.report(new JobEvent.Checkpointed(io.job(), c.step(), c.file()));
    else io.log().warn("checkpoint after step {} not written: {}", c.step(), c.failure());
  }

  /**
   * The job's fixed context and the actor's states; implements the {@link Ports} a running job acts
   * through.
   */
  private record Job(
      ActorContext<Command> ctx,
      JobId job,
      JobSpec spec,
      JobSetup setup,
      Path outDir,
      ActorRef<JobEvent> listener,
      Endpoint<CoordinatorMessage> endpoint,
      ActorRef<Writer.Request> writer,
      ActorRef<Writer.Written> written,
      ActorRef<TransferOutcome> outcomes,
      TransferSettings transfer,
      long directSendLimit,
      boolean chunkInJvm,
      Checkpoint resume,
      TimerScheduler<Command> timers,
      Duration workerWait,
      long[] traffic)
      implements Ports {

    /**
     * Workers register and are sent the job; the first one to answer with its layout starts the
     * job. {@code problem}: why the last worker that tried could not join (its model, data or
     * layout), for the timeout's message.
     */
    Behavior<Command> awaitingLayout(Workers workers, String problem) {
      return Behaviors.receive(Command.class)
          .onMessage(
              WrappedCoordinatorMessage.class,
              m -> {
                if (m.message() instanceof RegisterWorker r) {
                  return awaitingLayout(
                      RunningJob.register(this, workers, r, UNVERIFIED_MODEL), problem);
                }
                if (m.message() instanceof JobJoined j
                    && j.job().equals(job)
                    && workers.get(j.worker().value()) != null) return start(workers, j);
                if (m.message() instanceof CoordinatorMessage.WorkFailed f
                    && f.job().equals(job)
                    && f.item() instanceof WorkItem.Join
                    && workers.get(f.worker().value()) != null) {
                  String why = "worker " + f.worker().value() + " could not join: " + f.reason();
                  ctx.getLog().error("job {}: {}", job, why);
                  listener.tell(new JobEvent.WorkersChanged(job, List.of(), why));
                  ctx.unwatch(workers.get(f.worker().value()).actor());
                  Workers rest = workers.without(f.worker().value());
                  if (rest.endpoints().isEmpty() && spec.getBoolean("workers.fail-on-join-error")) {
                    return closing(
                        new JobEvent.Failed(job, "no worker could open the job: " + why));
                  }
                  return awaitingLayout(rest, why);
                }
                return Behaviors.same();
              })
          .onMessage(
              WorkerStopped.class,
              s ->
                  awaitingLayout(
                      workers.isCurrent(s.worker(), s.actor())
                          ? workers.without(s.worker())
                          : workers,
                      problem))
          .onMessage(CheckpointNow.class, c -> checkpointNow(null, c))
          .onMessage(
              NoWorkers.class,
              t -> {
                workers
                    .endpoints()
                    .values()
                    .forEach(
                        ep ->
                            ep.actor()
                                .tell(
                                    new WorkerMessage.CancelJob(job, "no worker joined in time")));
                return closing(
                    new JobEvent.Failed(
                        job, noWorkers() + (problem == null ? "" : "; " + problem)));
              })
          .onMessage(GetEndpoint.class, this::onGetEndpoint)
          .onMessage(
              Cancel.class, c -> closing(new JobEvent.Failed(job, "cancelled: " + c.reason())))
          .onMessage(WrappedWritten.class, w -> Behaviors.same())
          .onMessage(WrappedTransferOutcome.class, o -> Behaviors.same())
          .build();
    }

    /** The first layout fixes modules, head and plan; the job starts, or resumes from the checkpoint. */
    private Behavior<Command> start(Workers workers, JobJoined first) {
      String w = first.worker().value();
      JobLayout layout;
      Training training = null;
      try {
        layout = JobLayout.of(first, setup);
        if (resume != null) {
          training = Training.empty(setup, layout);
          training.restore(resume);
        }
      } catch (RuntimeException e) { // IllegalArgumentException names the key at fault; others are malformed numbers
        workers
            .endpoints()
            .values()
            .forEach(
                ep ->
                    ep.actor()
                        .tell(new WorkerMessage.CancelJob(job, String.valueOf(e.getMessage()))));
        return closing(
            new JobEvent.Failed(
                job, "the layout of worker " + w + " does not fit the job: " + e.getMessage()));
      }
      JobPlan plan = setup.plan(layout.gradientInit(), layout.evalBatches(), layout.shapes())
          .withStepZeroEvaluation(layout.evalStepZero());
      CoordinatorState state =
          resume != null
              ? CoordinatorState.resume(plan, resume.step())
              : CoordinatorState.start(plan);
      SketchReduction sketches = layout.gradientInit() && resume == null
          ? SketchReduction.start(layout.modules(), layout.shapes(), setup.initSettings(),
              setup.initGroups(layout.shapes())) : null;
      ctx.getLog().info("job {}: {} modules, head {}, plan {}", job, layout.modules().size(), layout.headNames(), plan);
      JobDraft d =
          new JobDraft(
              RunningJob.start(layout, first.layout(), state, workers, sketches, training), this);
      d.feed(new Event.WorkerJoined(w));
      return next(d);
    }

    private Behavior<Command> running(RunningJob r) {
      return Behaviors.receive(Command.class)
          .onMessage(
              WrappedCoordinatorMessage.class,
              m -> {
                traffic[1] += m.message().tensorBytes();
                return step(r, d -> d.onMessage(m.message()));
              })
          .onMessage(WorkerStopped.class, s -> step(r, d -> d.stopped(s.worker(), s.actor())))
          .onMessage(WrappedTransferOutcome.class, o -> step(r, d -> d.transferEnded(o.outcome())))
          .onMessage(WrappedWritten.class, w -> step(r, d -> d.written(w.written())))
          .onMessage(Cancel.class, c -> step(r, d -> d.cancel(c.reason())))
          .onMessage(
              NoWorkers.class,
              t ->
                  r.state().workers().isEmpty()
                      ? step(r, d -> d.cancel(noWorkers()))
                      : Behaviors.same())
          .onMessage(CheckpointNow.class, c -> checkpointNow(r, c))
          .onMessage(GetEndpoint.class, this::onGetEndpoint)
          .build();
    }

    /**
     * Checkpoints the masters of {@code r} (null before the job started or after it ended: what is on
     * disk is all there is), then answers once the writer has put everything asked before on disk.
     */
    private Behavior<Command> checkpointNow(RunningJob r, CheckpointNow c) {
      if (r != null && r.training() != null)
        checkpoint(r.training().checkpoint(setup.specSha256(), Phase.TRAINING.name()));
      ActorRef<org.apache.pekko.Done> replyTo = c.replyTo();
      ActorRef<Writer.Written> once = ctx.spawnAnonymous(Behaviors.receive(Writer.Written.class)
          .onMessage(Writer.Flushed.class, f -> {
            replyTo.tell(org.apache.pekko.Done.getInstance());
            return Behaviors.stopped();
          })
          .onAnyMessage(m -> Behaviors.same())
          .build());
      writer.tell(new Writer.Flush(once));
      return Behaviors.same();
    }

    /** Starts the {@code workers.wait-seconds} timer when the job has no worker, stops it when it has one. */
    void awaitWorkers(boolean none) {
      if (!none) timers.cancel(NoWorkers.TIMEOUT);
      else if (!workerWait.isZero() && !timers.isTimerActive(NoWorkers.TIMEOUT))
        timers.startSingleTimer(NoWorkers.TIMEOUT, workerWait);
    }

    private String noWorkers() {
      return "no worker served the job for " + workerWait.toSeconds() + " s (workers.wait-seconds)";
    }

    /** One message's change; a bug surfacing here still ends the job with a reason rather than a silent stop. */
    private Behavior<Command> step(RunningJob r, Consumer<JobDraft> change) {
      JobDraft d = new JobDraft(r, this);
      try {
        change.accept(d);
      } catch (RuntimeException e) {
        ctx.getLog().error("job {}: coordinator error", job, e);
        r.workers()
            .endpoints()
            .values()
            .forEach(
                ep -> ep.actor().tell(new WorkerMessage.CancelJob(job, "coordinator error: " + e)));
        return closing(new JobEvent.Failed(job, "coordinator error at step " + r.state().step() + ": " + e));
      }
      return next(d);
    }

    private Behavior<Command> next(JobDraft d) {
      RunningJob r = d.freeze();
      if (r.end() != null) return closing(r.end());
      awaitWorkers(r.state().workers().isEmpty());
      return running(r);
    }

    /** The job ended: wait until the writer has everything on disk, then report the end and stop. */
    private Behavior<Command> closing(JobEvent end) {
      timers.cancel(NoWorkers.TIMEOUT);
      writer.tell(new Writer.Flush(written));
      return Behaviors.receive(Command.class)
          .onMessage(WrappedWritten.class, w -> {
            if (w.written() instanceof Writer.CheckpointWritten c) reportCheckpoint(this, c);
            if (!(w.written() instanceof Writer.Flushed)) return Behaviors.same();
            ctx.getLog().info("job {} ended: {}", job, end);
            listener.tell(end);
            return Behaviors.stopped();
          })
          .onMessage(GetEndpoint.class, this::onGetEndpoint)
          .onMessage(CheckpointNow.class, c -> checkpointNow(null, c))
          .onAnyMessage(m -> Behaviors.same())
          .build();
    }

    private Behavior<Command> onGetEndpoint(GetEndpoint g) {
      g.replyTo().tell(endpoint);
      return Behaviors.same();
    }

    // ---- Ports ----

    @Override
    public Logger log() {
      return ctx.getLog();
    }

    @Override
    public Optional<TransferId> send(Endpoint<WorkerMessage> to, WorkerMessage m) {
      long bytes = m.tensorBytes();
      traffic[0] += bytes;
      if (bytes <= directSendLimit || (!chunkInJvm && to.actor().path().address().hasLocalScope())) {
        to.actor().tell(m); // in-JVM recipients get the object itself: nothing to serialize or chunk
        return Optional.empty();
      }
      TransferId id = TransferId.random();
      ctx.spawnAnonymous(ChunkSender.create(id, m, to.actor(), to.inbox(), outcomes, transfer));
      return Optional.of(id);
    }

    @Override
    public void watch(String worker, ActorRef<WorkerMessage> actor) {
      ctx.watchWith(actor, new WorkerStopped(worker, actor));
    }

    @Override
    public void unwatch(ActorRef<WorkerMessage> actor) {
      ctx.unwatch(actor);
    }

    @Override
    public void report(JobEvent event) {
      listener.tell(event);
      if (event instanceof JobEvent.StepDone d)
        listener.tell(new JobEvent.Traffic(job, d.step(), traffic[0], traffic[1]));
    }

    @Override
    public void checkpoint(Checkpoint c) {
      writer.tell(new Writer.WriteCheckpoint(c, outDir.resolve(CHECKPOINT_DIR), written));
    }

    @Override
    public void writeAdapter(PeftAdapter adapter, List<String> labels, Path dir) {
      writer.tell(new Writer.WriteAdapter(adapter, labels, dir, written));
    }
  }
}
