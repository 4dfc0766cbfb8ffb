package dev.loraone.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.coordinator.CoordinatorActor;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * One job in one JVM: a coordinator and N worker actors in a single ActorSystem (the embedded
 * mode of {@code loraone train --job FILE --workers N} and of {@code loraone demo}). The actors and
 * messages are those of the cluster mode; only the transport is local.
 */
public final class EmbeddedJob {
  private EmbeddedJob() {}

  /** Every loraone node's actor system is called this (cluster addresses: {@code pekko://loraone@host:port}). */
  public static final String SYSTEM_NAME = "loraone";

  /** The guardian learns the coordinator's endpoint, then spawns the workers. */
  private record Started(Endpoint<CoordinatorMessage> endpoint, Throwable failure) {}

  /** Spawns a worker actor (the gpu-worker module's WorkerActor, or a test double). */
  @FunctionalInterface
  public interface WorkerFactory {
    Behavior<?> create(WorkerId id, Endpoint<CoordinatorMessage> coordinator, ActorRef<TransferMessage> inbox);
  }

  /**
   * Runs the job to its end and returns the last event ({@link JobEvent.Finished} or
   * {@link JobEvent.Failed}); {@code progress} sees every event, on an actor thread.
   */
  public static JobEvent run(JobSpec spec, int workers, WorkerFactory factory, Path outDir, Consumer<JobEvent> progress,
      Duration timeout) {
    return run(spec, workers, factory, outDir, progress, e -> false, timeout);
  }

  /**
   * As {@link #run(JobSpec, int, WorkerFactory, Path, Consumer, Duration)}, but the whole
   * ActorSystem is torn down as soon as {@code abortWhen} accepts an event, as a crash would (what
   * is on disk stays: the last checkpoint). Returns {@link JobEvent.Failed} in that case.
   */
  public static JobEvent run(JobSpec spec, int workers, WorkerFactory factory, Path outDir, Consumer<JobEvent> progress,
      java.util.function.Predicate<JobEvent> abortWhen, Duration timeout) {
    if (workers < 1) throw new IllegalArgumentException("--workers must be >= 1, got " + workers);
    return run(config(), spec, workers, factory, outDir, progress, abortWhen, timeout);
  }

  /**
   * The job on an actor system made from {@code config}: with {@code provider = cluster} this is a
   * coordinator node ({@code loraone node --role coordinator}) whose workers, on other nodes, find
   * it through the receptionist; {@code workers} local ones may be added (0 for none).
   * CoordinatedShutdown (Ctrl-C, SIGTERM, the cluster downing this node) first writes a checkpoint
   * of the last applied step.
   */
  public static JobEvent run(
      Config config,
      JobSpec spec,
      int workers,
      WorkerFactory factory,
      Path outDir,
      Consumer<JobEvent> progress,
      java.util.function.Predicate<JobEvent> abortWhen,
      Duration timeout) {
    if (workers < 0) throw new IllegalArgumentException("workers must be >= 0, got " + workers);
    JobId job = new JobId(spec.getString("name"));
    CompletableFuture<JobEvent> done = new CompletableFuture<>();
    Behavior<Started> guardian =
        Behaviors.setup(
            ctx -> {
              ActorRef<TransferMessage> inbox =
                  ctx.spawn(
                      TransferInbox.create(TransferSettings.of(ctx.getSystem())),
                      TransferInbox.NAME);
              ActorRef<JobEvent> listener =
                  ctx.spawn(
                      Behaviors.<JobEvent>receiveMessage(
                          e -> {
                            progress.accept(e);
                            if (e instanceof JobEvent.Finished || e instanceof JobEvent.Failed)
                              done.complete(e);
                            else if (abortWhen.test(e))
                              done.complete(
                                  new JobEvent.Failed(job, "aborted by the caller after " + e));
                            return Behaviors.same();
                          }),
                      "job-events");
              ActorRef<CoordinatorActor.Command> coordinator =
                  ctx.spawn(
                      CoordinatorActor.create(job, spec, outDir, inbox, listener),
                      "coordinator-" + job.value());
              @SuppressWarnings("unchecked")
              Class<Endpoint<CoordinatorMessage>> endpointClass =
                  (Class<Endpoint<CoordinatorMessage>>) (Class<?>) Endpoint.class;
              ctx.ask(
                  endpointClass,
                  coordinator,
                  Duration.ofSeconds(60),
                  CoordinatorActor.GetEndpoint::new,
                  (endpoint, failure) -> new Started(endpoint, failure));
              org.apache.pekko.actor.typed.ActorSystem<Void> system = ctx.getSystem();
              CoordinatedShutdown.get(system)
                  .addTask(
                      CoordinatedShutdown.PhaseBeforeServiceUnbind(),
                      "loraone-checkpoint",
                      () ->
                          done.isDone()
                              ? CompletableFuture.completedFuture(Done.getInstance())
                              : AskPattern.<CoordinatorActor.Command, Done>ask(
                                      coordinator,
                                      CoordinatorActor.CheckpointNow::new,
                                      Duration.ofSeconds(60),
                                      system.scheduler())
                                  .exceptionally(t -> Done.getInstance()));
              return Behaviors.receiveMessage(
                  started -> {
                    if (started.failure() != null) {
                      done.complete(
                          new JobEvent.Failed(
                              job, "coordinator did not start: " + started.failure()));
                      return Behaviors.same();
                    }
                    for (int i = 0; i < workers; i++) {
                      WorkerId id = new WorkerId("worker-" + (i + 1));
                      ctx.spawn(factory.create(id, started.endpoint(), inbox), id.value());
                    }
                    return Behaviors.same();
                  });
            });
    ActorSystem<Started> system = ActorSystem.create(guardian, SYSTEM_NAME, config);
    system
        .getWhenTerminated()
        .thenRun(
            () ->
                done.complete(
                    new JobEvent.Failed(
                        job,
                        "the node shut down before the job ended; "
                            + "its last checkpoint in "
                            + outDir
                            + " is resumed by the next coordinator on that folder")));
    try {
      return done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      return new JobEvent.Failed(job, "job did not finish within " + timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new JobEvent.Failed(job, "interrupted");
    } catch (java.util.concurrent.ExecutionException e) {
      return new JobEvent.Failed(job, String.valueOf(e.getCause()));
    } finally {
      system.terminate();
      try {
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // the job's outcome is already decided; a slow shutdown does not change it
      }
    }
  }

  /** Embedded: local actors only, quiet logs. */
  static Config config() {
    return ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = local
        pekko.coordinated-shutdown.exit-jvm = off
        """).withFallback(ConfigFactory.load());
  }
}
