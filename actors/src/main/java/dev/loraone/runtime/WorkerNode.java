package dev.loraone.runtime;

import dev.loraone.coordinator.CoordinatorActor;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.worker.actor.WorkerActor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

/**
 * The guardian of a worker node ({@code loraone node --role worker}): long-lived, it serves every
 * coordinator the cluster's receptionist lists under {@link CoordinatorActor#SERVICE_KEY} with one
 * {@link WorkerActor} per device, and stops those actors when their coordinator disappears (its job
 * ended, its node left or was downed). A coordinator that comes back (a restarted node resuming its
 * checkpoint) is a new listing entry and gets new worker actors under the same worker ids, which
 * the coordinator treats as the same workers' new incarnations.
 *
 * <pre>
 *   receptionist Listing(coordinators)  -&gt;  new coordinator: spawn WorkerActor(id, device) per device; it registers
 *                                           gone coordinator: stop its WorkerActors (their engines close)
 * </pre>
 */
public final class WorkerNode {
  private WorkerNode() {}

  /** What the guardian accepts. */
  public sealed interface Command {}

  /** The receptionist's answer, adapted. */
  private record Listed(Receptionist.Listing listing) implements Command {}

  /**
   * Drain every worker actor of this node ({@link WorkerActor.Drain}) and answer once all finished
   * their running units: the node's CoordinatedShutdown task, so a leaving node loses no work.
   */
  public record DrainAll(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  private record Drained(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  /**
   * @param baseId this node's worker id; with several devices, each worker is {@code baseId-K}
   * @param devices e.g. {@code [cpu]}; DJL's one gradient collector per JVM makes devices of one JVM take turns
   */
  public static Behavior<Command> create(String baseId, List<String> devices) {
    return create(baseId, devices, DatasetSource.NONE);
  }

  /** As {@link #create(String, List)}; jobs naming uploaded datasets read them through {@code datasets}. */
  public static Behavior<Command> create(String baseId, List<String> devices, DatasetSource datasets) {
    if (devices.isEmpty()) throw new IllegalArgumentException("--device: give at least one (cpu)");
    List<WorkerId> ids = new ArrayList<>();
    for (int k = 0; k < devices.size(); k++) ids.add(new WorkerId(devices.size() == 1 ? baseId : baseId + "-" + k));
    return Behaviors.<Command>setup(
        ctx -> {
          ActorRef<TransferMessage> inbox =
              ctx.spawn(
                  TransferInbox.create(TransferSettings.of(ctx.getSystem())), TransferInbox.NAME);
          ActorRef<Receptionist.Listing> listings =
              ctx.messageAdapter(Receptionist.Listing.class, Listed::new);
          ctx.getSystem()
              .receptionist()
              .tell(Receptionist.subscribe(CoordinatorActor.SERVICE_KEY, listings));
          ctx.getLog().info("worker node {} serving coordinators with devices {}", ids, devices);
          return serving(ctx, ids, devices, datasets, inbox, new HashMap<>(), 0);
        });
  }

  private static Behavior<Command> serving(ActorContext<Command> ctx, List<WorkerId> ids, List<String> devices,
      DatasetSource datasets, ActorRef<TransferMessage> inbox,
      Map<ActorRef<CoordinatorMessage>, List<ActorRef<?>>> served, int spawned) {
    return Behaviors.receive(Command.class)
        .onMessage(DrainAll.class, d -> drain(ctx, served, d.replyTo()))
        .onMessage(Listed.class, l -> {
          Set<ActorRef<CoordinatorMessage>> now = l.listing().getServiceInstances(CoordinatorActor.SERVICE_KEY);
          Map<ActorRef<CoordinatorMessage>, List<ActorRef<?>>> next = new HashMap<>();
          int count = spawned;
          for (var e : served.entrySet()) {
            if (now.contains(e.getKey())) {
              next.put(e.getKey(), e.getValue());
            } else {
              ctx.getLog().info("coordinator {} is gone: stopping its workers", e.getKey().path());
              e.getValue().forEach(ctx::stop);
            }
          }
          for (ActorRef<CoordinatorMessage> c : now) {
            if (next.containsKey(c)) continue;
            List<ActorRef<?>> workers = new ArrayList<>();
            for (int k = 0; k < ids.size(); k++) {
              var worker = WorkerActor.create(ids.get(k), devices.get(k), c, inbox);
              workers.add(ctx.spawn(DatasetJoins.around(worker, datasets), "worker-" + (++count)));
            }
            ctx.getLog().info("serving coordinator {} with {}", c.path(), ids);
            next.put(c, workers);
          }
          return serving(ctx, ids, devices, datasets, inbox, next, count);
        }).build();
  }

  /**
   * Asks every worker actor to drain; stops serving new coordinators meanwhile (the node is
   * leaving).
   */
  private static Behavior<Command> drain(
      ActorContext<Command> ctx,
      Map<ActorRef<CoordinatorMessage>, List<ActorRef<?>>> served,
      ActorRef<org.apache.pekko.Done> replyTo) {
    List<java.util.concurrent.CompletableFuture<org.apache.pekko.Done>> all = new ArrayList<>();
    for (List<ActorRef<?>> workers : served.values()) {
      for (ActorRef<?> w : workers) {
        all.add(
            org.apache.pekko.actor.typed.javadsl.AskPattern
                .<WorkerActor.Drain, org.apache.pekko.Done>ask(
                    w.unsafeUpcast(),
                    WorkerActor.Drain::new,
                    java.time.Duration.ofMinutes(5),
                    ctx.getSystem().scheduler())
                .toCompletableFuture()
                .exceptionally(t -> org.apache.pekko.Done.getInstance()));
      }
    }
    ctx.getLog().info("worker node draining {} worker actor(s) before it leaves", all.size());
    ctx.pipeToSelf(
        java.util.concurrent.CompletableFuture.allOf(
            all.toArray(java.util.concurrent.CompletableFuture[]::new)),
        (ok, failure) -> new Drained(replyTo));
    return Behaviors.receive(Command.class)
        .onMessage(
            Drained.class,
            d -> {
              d.replyTo().tell(org.apache.pekko.Done.getInstance());
              return Behaviors.same();
            })
        .onMessage(
            DrainAll.class,
            d -> {
              d.replyTo()
                  .tell(
                      org.apache.pekko.Done
                          .getInstance()); // a second ask while draining: the first answer covers
                                           // it
              return Behaviors.same();
            })
        .onAnyMessage(m -> Behaviors.same())
        .build();
  }
}
