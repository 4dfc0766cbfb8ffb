package dev.loraone.runtime;

import dev.loraone.coordinator.CoordinatorActor;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.NodeMessage;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.worker.actor.WorkerActor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * The guardian of a worker node ({@code loraone node --role worker}, or the service's local workers): long-lived,
 * it advertises the node's capacity and serves coordinators with one {@link WorkerActor} per device, stopping
 * those actors when their coordinator disappears (its job ended, its node left or was downed).
 *
 * <p>Which coordinators: every one listed under {@link CoordinatorActor#SERVICE_KEY} (a job started with
 * {@code loraone node --role coordinator}: no scheduler, every worker serves it), and of those listed under
 * {@link CoordinatorActor#PLACED_KEY} (the service's jobs) only the ones the service's scheduler placed here
 * ({@link NodeMessage.Serve}). The node registers its agent under {@link #NODE_KEY} and answers
 * {@link NodeMessage.Describe} with its {@link NodeMessage.Capacity}: worker ids, devices and the memory jobs may
 * use ({@link NodeMemory}). A coordinator that comes back (a restarted node resuming its checkpoint) is a new
 * listing entry and gets new worker actors under the same worker ids, which the coordinator treats as the same
 * workers' new incarnations.
 *
 * <pre>
 *   Listing(coordinators)  -&gt;  newly servable: spawn WorkerActor(id, device) per device; it registers
 *                              gone coordinator: stop its WorkerActors (their engines close)
 *   Serve(job, coordinator) -&gt; the placed coordinator becomes servable
 *   Describe(replyTo)       -&gt; Capacity(agent, host:port, workers, devices, memory)
 * </pre>
 */
public final class WorkerNode {
  private WorkerNode() {}

  /** The receptionist key of node agents: the service's scheduler finds worker nodes by it. */
  public static final ServiceKey<NodeMessage> NODE_KEY = ServiceKey.create(NodeMessage.class, "loraone-node");

  /** What the guardian accepts. */
  public sealed interface Command {}

  /** The receptionist's answer, adapted. */
  private record Listed(Receptionist.Listing listing) implements Command {}

  /** A scheduler's message, adapted. */
  private record FromScheduler(NodeMessage message) implements Command {}

  /**
   * Drain every worker actor of this node ({@link WorkerActor.Drain}) and answer once all finished
   * their running units: the node's CoordinatedShutdown task, so a leaving node loses no work.
   */
  public record DrainAll(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  private record Drained(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  /** As {@link #create(String, List, long)} with the memory of {@link NodeMemory#KEY} in the node's config. */
  public static Behavior<Command> create(String baseId, List<String> devices) {
    return create(baseId, devices, -1);
  }

  /**
   * @param baseId this node's worker id; with several devices, each worker is {@code baseId-K}
   * @param devices e.g. {@code [cpu]}; DJL's one gradient collector per JVM makes devices of one JVM take turns
   * @param memoryBytes what jobs may use on this node; negative: {@link NodeMemory#of} the config
   */
  public static Behavior<Command> create(String baseId, List<String> devices, long memoryBytes) {
    return create(baseId, devices, memoryBytes, DatasetSource.NONE);
  }

  /** As {@link #create(String, List, long)}; jobs naming uploaded datasets read them through {@code datasets}. */
  public static Behavior<Command> create(String baseId, List<String> devices, long memoryBytes,
      DatasetSource datasets) {
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
          var receptionist = ctx.getSystem().receptionist();
          receptionist.tell(Receptionist.subscribe(CoordinatorActor.SERVICE_KEY, listings));
          receptionist.tell(Receptionist.subscribe(CoordinatorActor.PLACED_KEY, listings));
          // a child, not a message adapter: the receptionist must not watch one ref as subscriber and as service
          ActorRef<Command> self = ctx.getSelf();
          ActorRef<NodeMessage> agent = ctx.spawn(Behaviors.receiveMessage(m -> {
            self.tell(new FromScheduler(m));
            return Behaviors.same();
          }), "node-agent");
          receptionist.tell(Receptionist.register(NODE_KEY, agent));
          long memory = memoryBytes >= 0 ? memoryBytes : NodeMemory.of(ctx.getSystem().settings().config());
          var a = ctx.getSystem().address();
          String node = a.getHost().orElse("local") + ":" + a.getPort().orElse(0);
          NodeMessage.Capacity capacity = new NodeMessage.Capacity(agent, node,
              ids.stream().map(WorkerId::value).toList(), devices, memory);
          ctx.getLog().info("worker node {} serving coordinators with devices {}, {} for jobs", ids, devices,
              NodeMemory.show(memory));
          return new Node(ctx, ids, devices, datasets, inbox, capacity).serving();
        });
  }

  /** The guardian's state while it serves. */
  private static final class Node {
    final ActorContext<Command> ctx;
    final List<WorkerId> ids;
    final List<String> devices;
    final DatasetSource datasets;
    final ActorRef<TransferMessage> inbox;
    final NodeMessage.Capacity capacity;
    Set<ActorRef<CoordinatorMessage>> open = Set.of();
    Set<ActorRef<CoordinatorMessage>> placed = Set.of();
    final Set<ActorRef<CoordinatorMessage>> assigned = new HashSet<>();
    final Map<ActorRef<CoordinatorMessage>, List<ActorRef<?>>> served = new HashMap<>();
    int spawned;

    Node(ActorContext<Command> ctx, List<WorkerId> ids, List<String> devices, DatasetSource datasets,
        ActorRef<TransferMessage> inbox, NodeMessage.Capacity capacity) {
      this.ctx = ctx;
      this.ids = ids;
      this.devices = devices;
      this.datasets = datasets;
      this.inbox = inbox;
      this.capacity = capacity;
    }

    Behavior<Command> serving() {
      return Behaviors.receive(Command.class)
          .onMessage(DrainAll.class, d -> drain(ctx, served, d.replyTo()))
          .onMessage(Listed.class, l -> {
            if (l.listing().isForKey(CoordinatorActor.SERVICE_KEY)) {
              open = l.listing().getServiceInstances(CoordinatorActor.SERVICE_KEY);
            } else if (l.listing().isForKey(CoordinatorActor.PLACED_KEY)) {
              placed = l.listing().getServiceInstances(CoordinatorActor.PLACED_KEY);
            }
            update();
            return Behaviors.same();
          })
          .onMessage(FromScheduler.class, f -> {
            if (f.message() instanceof NodeMessage.Describe d) {
              d.replyTo().tell(capacity);
            } else if (f.message() instanceof NodeMessage.Serve s) {
              ctx.getLog().info("placed: job {} on this node", s.job().value());
              assigned.add(s.coordinator());
              update();
            }
            return Behaviors.same();
          })
          .build();
    }

    /** Stops the workers of coordinators no longer servable, spawns them for newly servable ones. */
    private void update() {
      for (var it = served.entrySet().iterator(); it.hasNext(); ) {
        var e = it.next();
        if (!open.contains(e.getKey()) && !placed.contains(e.getKey())) {
          ctx.getLog().info("coordinator {} is gone: stopping its workers", e.getKey().path());
          e.getValue().forEach(ctx::stop);
          assigned.remove(e.getKey());
          it.remove();
        }
      }
      List<ActorRef<CoordinatorMessage>> servable = new ArrayList<>(open);
      for (ActorRef<CoordinatorMessage> c : placed) if (assigned.contains(c)) servable.add(c);
      for (ActorRef<CoordinatorMessage> c : servable) {
        if (served.containsKey(c)) continue;
        List<ActorRef<?>> workers = new ArrayList<>();
        for (int k = 0; k < ids.size(); k++) {
          var worker = WorkerActor.create(ids.get(k), devices.get(k), c, inbox);
          workers.add(ctx.spawn(DatasetJoins.around(worker, datasets), "worker-" + (++spawned)));
        }
        ctx.getLog().info("serving coordinator {} with {}", c.path(), ids);
        served.put(c, workers);
      }
    }
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
