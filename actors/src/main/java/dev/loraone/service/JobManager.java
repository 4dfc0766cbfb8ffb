package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.coordinator.CoordinatorActor;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.NodeMessage;
import dev.loraone.runtime.JobEventJson;
import dev.loraone.runtime.NodeMemory;
import dev.loraone.runtime.WorkerNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

/**
 * The service's job queue: accepts jobs, runs up to {@code maxConcurrent} of them at once, each as
 * a {@link CoordinatorActor} on this node, placed by memory ({@link Scheduler}: each job's {@link JobEstimate}
 * against the worker nodes' advertised capacity, {@code job.priority} first) on the nodes it then tells to serve it,
 * and keeps every job's record and events in the {@link JobStore} before anyone hears of them.
 * Started on a store that holds jobs, it takes them back as they were left: queued jobs queue again
 * in submission order, running ones go first and resume from their checkpoints.
 *
 * <pre>
 *   Submit(spec, by)    -&gt; Submitted(job)      QUEUED, on disk; starts at once when a slot is free
 *   Cancel(id)          -&gt; CancelOutcome        QUEUED: CANCELLED now; RUNNING: the coordinator is cancelled, then
 *       CANCELLED
 *   ListJobs / GetJob / GetEvents               what the HTTP API and the web page show
 *   coordinator's JobEvent                      appended to events.jsonl; Finished -&gt; SUCCEEDED, Failed -&gt; FAILED
 *   ShutDown (CoordinatedShutdown)             running jobs write a checkpoint and stay RUNNING on disk
 * </pre>
 *
 * A counter-style actor ({@link AbstractBehavior}): its state is the table of jobs.
 */
public final class JobManager extends AbstractBehavior<JobManager.Command> {
  public sealed interface Command {}

  /** {@code submittedBy}: the name of the caller's token ({@link Tokens}), or null on a service without tokens. */
  public record Submit(JobSpec spec, String submittedBy, ActorRef<Submitted> replyTo) implements Command {}

  /** {@code job}: the new job's summary; {@code error}: why it was not stored (then job is null). */
  public record Submitted(ObjectNode job, String error) {}

  public record ListJobs(ActorRef<ArrayNode> replyTo) implements Command {}

  public record GetJob(String id, ActorRef<Optional<ObjectNode>> replyTo) implements Command {}

  /** Events {@code from} (an index into the job's event list) on. */
  public record GetEvents(String id, int from, ActorRef<EventsPage> replyTo) implements Command {}

  /** {@code events} from index {@code from}; {@code ended}: the job is over and no event will follow. */
  public record EventsPage(boolean found, int from, List<ObjectNode> events, boolean ended) {}

  public record Cancel(String id, ActorRef<CancelOutcome> replyTo) implements Command {}

  /** {@code status}: 202 accepted, 404 no such job, 409 already ended; {@code job} the summary after it. */
  public record CancelOutcome(int status, ObjectNode job, String error) {}

  /** Stop starting jobs; checkpoint the running ones, then answer (CoordinatedShutdown's task). */
  public record ShutDown(ActorRef<Done> replyTo) implements Command {}

  /** The ids of the jobs that have not ended whose spec {@code names} accepts (an upload about to be deleted). */
  public record Using(java.util.function.Predicate<JobSpec> names, ActorRef<List<String>> replyTo)
      implements Command {}

  private record WrappedJobEvent(JobEvent event) implements Command {}

  private record CoordinatorStopped(String id) implements Command {}

  private record CheckpointsWritten(ActorRef<Done> replyTo) implements Command {}

  private record NodesListed(Receptionist.Listing listing) implements Command {}

  private record FromNode(NodeMessage message) implements Command {}

  /** A started coordinator's wire endpoint: what placed nodes are told to serve. */
  private record EndpointKnown(String id, ActorRef<CoordinatorMessage> wire) implements Command {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final JobStore store;
  private final int maxConcurrent;
  private final ActorRef<TransferMessage> inbox;
  private final ServiceMetrics metrics;
  private final ActorRef<JobEvent> events;
  private final Map<String, JobView> jobs = new LinkedHashMap<>();
  private final Map<String, JobSpec> specs = new HashMap<>();
  private final Scheduler scheduler = new Scheduler();
  private final Map<String, ActorRef<CoordinatorMessage>> wires = new HashMap<>();
  private final Map<ActorRef<NodeMessage>, String> agents = new HashMap<>();
  private final ActorRef<NodeMessage> nodeReplies;
  private long submissions;
  private final Map<String, ActorRef<CoordinatorActor.Command>> running = new LinkedHashMap<>();
  private boolean shuttingDown;
  private final java.util.function.UnaryOperator<JobSpec> local;

  /** The job manager; {@code local} names a job's uploaded model by its stored folder for the memory estimate. */
  public static Behavior<Command> create(JobStore store, int maxConcurrent, ActorRef<TransferMessage> inbox,
      ServiceMetrics metrics, java.util.function.UnaryOperator<JobSpec> local) {
    if (maxConcurrent < 1) throw new IllegalArgumentException("--max-concurrent must be >= 1, got " + maxConcurrent);
    return Behaviors.setup(ctx -> new JobManager(ctx, store, maxConcurrent, inbox, metrics, local));
  }

  private JobManager(
      ActorContext<Command> ctx,
      JobStore store,
      int maxConcurrent,
      ActorRef<TransferMessage> inbox,
      ServiceMetrics metrics,
      java.util.function.UnaryOperator<JobSpec> local)
      throws IOException {
    super(ctx);
    this.local = local;
    this.store = store;
    this.maxConcurrent = maxConcurrent;
    this.inbox = inbox;
    this.metrics = metrics;
    this.events = ctx.messageAdapter(JobEvent.class, WrappedJobEvent::new);
    this.nodeReplies = ctx.messageAdapter(NodeMessage.class, FromNode::new);
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(WorkerNode.NODE_KEY,
        ctx.messageAdapter(Receptionist.Listing.class, NodesListed::new)));
    List<String> resumed = new ArrayList<>();
    List<String> queued = new ArrayList<>();
    for (JobStore.Loaded l : store.load(w -> ctx.getLog().warn(w))) {
      JobView v = new JobView(l.record());
      l.events().forEach(v::add);
      jobs.put(l.record().id(), v);
      specs.put(l.record().id(), l.spec());
      if (l.record().state() == JobStore.State.RUNNING) resumed.add(l.record().id());
      else if (l.record().state() == JobStore.State.QUEUED) queued.add(l.record().id());
    }
    for (String id : resumed) {
      JobView v = jobs.get(id);
      v.record = v.record.with(JobStore.State.QUEUED, null);
      store.save(v.record);
      note(id, "Requeued", "the service restarted while the job ran; it resumes from its last checkpoint");
      enqueue(id, -1_000_000L + resumed.indexOf(id)); // resumed jobs first within their priority
    }
    for (String id : queued) enqueue(id, submissions++);
    if (!jobs.isEmpty())
      ctx.getLog()
          .info(
              "job store {}: {} jobs, {} queued ({} to resume)",
              store.root(),
              jobs.size(),
              scheduler.queue().size(),
              resumed.size());
    metrics.queue(() -> scheduler.queue().size(), running::size);
    startWhatFits();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(ListJobs.class, l -> {
          ArrayNode a = JSON.createArrayNode();
          jobs.values().forEach(v -> a.add(v.summary()));
          l.replyTo().tell(a);
          return this;
        })
        .onMessage(GetJob.class, g -> {
          JobView v = jobs.get(g.id());
          g.replyTo().tell(Optional.ofNullable(v).map(JobView::detail));
          return this;
        })
        .onMessage(GetEvents.class, this::onGetEvents)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(WrappedJobEvent.class, w -> onJobEvent(w.event()))
        .onMessage(CoordinatorStopped.class, this::onCoordinatorStopped)
        .onMessage(ShutDown.class, this::onShutDown)
        .onMessage(Using.class, u -> {
          u.replyTo().tell(jobs.entrySet().stream().filter(e -> !e.getValue().record.state().ended()
              && u.names().test(specs.get(e.getKey()))).map(Map.Entry::getKey).toList());
          return this;
        })
        .onMessage(NodesListed.class, this::onNodesListed)
        .onMessage(FromNode.class, f -> {
          if (f.message() instanceof NodeMessage.Capacity c) {
            agents.put(c.agent(), c.node());
            scheduler.node(c);
            startWhatFits();
          }
          return this;
        })
        .onMessage(EndpointKnown.class, e -> {
          if (running.containsKey(e.id())) {
            wires.put(e.id(), e.wire());
            serve(e.id(), scheduler.placement(e.id()));
          }
          return this;
        })
        .onMessage(CheckpointsWritten.class, c -> {
          // stop the coordinators at their checkpoint: no step after it, so the resumed run continues exactly there
          running.values().forEach(getContext()::stop);
          c.replyTo().tell(Done.getInstance());
          return this;
        })
        .build();
  }

  private Behavior<Command> onSubmit(Submit s) {
    if (shuttingDown) {
      s.replyTo().tell(new Submitted(null, "the service is shutting down"));
      return this;
    }
    JobStore.Record r;
    try {
      r = store.create(s.spec(), s.submittedBy());
    } catch (IOException | RuntimeException e) {
      s.replyTo().tell(new Submitted(null, "could not store the job: " + e.getMessage()));
      return this;
    }
    JobView v = new JobView(r);
    jobs.put(r.id(), v);
    specs.put(r.id(), s.spec());
    if (enqueue(r.id(), submissions++)) {
      note(r.id(), "Submitted", "queued: " + v.schedule.path("waiting").asText(""));
    }
    startWhatFits();
    s.replyTo().tell(new Submitted(v.summary(), null));
    return this;
  }

  private Behavior<Command> onGetEvents(GetEvents g) {
    JobView v = jobs.get(g.id());
    if (v == null) {
      g.replyTo().tell(new EventsPage(false, g.from(), List.of(), true));
      return this;
    }
    int from = Math.max(0, Math.min(g.from(), v.events.size()));
    g.replyTo()
        .tell(
            new EventsPage(
                true,
                from,
                List.copyOf(v.events.subList(from, v.events.size())),
                v.record.state().ended()));
    return this;
  }

  private Behavior<Command> onCancel(Cancel c) {
    JobView v = jobs.get(c.id());
    if (v == null) {
      c.replyTo().tell(new CancelOutcome(404, null, "no job '" + c.id() + "'"));
    } else if (v.record.state().ended()) {
      c.replyTo().tell(new CancelOutcome(409, v.summary(), "job " + c.id() + " already ended: " + v.record.state()));
    } else if (scheduler.dequeue(c.id())) {
      end(c.id(), JobStore.State.CANCELLED, "cancelled while queued");
      c.replyTo().tell(new CancelOutcome(202, v.summary(), null));
    } else {
      v.record = v.record.cancelling();
      store.save(v.record);
      note(c.id(), "CancelRequested", "cancel requested; the coordinator stops the job");
      ActorRef<CoordinatorActor.Command> coordinator = running.get(c.id());
      if (coordinator != null) coordinator.tell(new CoordinatorActor.Cancel("by the user"));
      c.replyTo().tell(new CancelOutcome(202, v.summary(), null));
    }
    return this;
  }

  private Behavior<Command> onJobEvent(JobEvent e) {
    String id = e.job().value();
    JobView v = jobs.get(id);
    if (v == null || !running.containsKey(id)) return this;
    ObjectNode n = JobEventJson.toNode(e);
    n.put("time", System.currentTimeMillis());
    store.append(id, n);
    v.add(n);
    metrics.event(id, e, specs.get(id));
    if (e instanceof JobEvent.Finished f) {
      stopped(id);
      v.record = v.record.finished(f.adapterSha256());
      store.save(v.record);
      metrics.ended(id, JobStore.State.SUCCEEDED);
      startWhatFits();
    } else if (e instanceof JobEvent.Failed f) {
      if (shuttingDown) return this; // a job stopped by the shutdown stays RUNNING on disk: resumed at the next start
      stopped(id);
      end(id, v.record.cancelRequested() ? JobStore.State.CANCELLED : JobStore.State.FAILED, f.reason());
      startWhatFits();
    }
    return this;
  }

  private Behavior<Command> onCoordinatorStopped(CoordinatorStopped s) {
    if (running.containsKey(s.id()) && !shuttingDown) {
      stopped(s.id()); // stopped without a Finished or Failed: a bug, said as such
      end(s.id(), JobStore.State.FAILED, "the job's coordinator stopped without reporting an end");
      startWhatFits();
    } else {
      running.remove(s.id());
    }
    return this;
  }

  private Behavior<Command> onShutDown(ShutDown s) {
    shuttingDown = true;
    List<java.util.concurrent.CompletionStage<Done>> saves = new ArrayList<>();
    for (ActorRef<CoordinatorActor.Command> c : running.values()) {
      saves.add(
          org.apache.pekko.actor.typed.javadsl.AskPattern.ask(
              c,
              CoordinatorActor.CheckpointNow::new,
              java.time.Duration.ofSeconds(60),
              getContext().getSystem().scheduler()));
    }
    java.util.concurrent.CompletableFuture<?>[] all =
        saves.stream()
            .map(java.util.concurrent.CompletionStage::toCompletableFuture)
            .toArray(java.util.concurrent.CompletableFuture[]::new);
    getContext()
        .pipeToSelf(
            java.util.concurrent.CompletableFuture.allOf(all),
            (ok, failure) -> new CheckpointsWritten(s.replyTo()));
    return this;
  }

  // ---- helpers ----

  /**
   * Starts the queued jobs the scheduler places now, grows running jobs onto nodes with room while none waits,
   * and refreshes what each job's view says about its place.
   */
  private void startWhatFits() {
    while (!shuttingDown) {
      var next = scheduler.next(running.size() < maxConcurrent);
      if (next.isEmpty()) break;
      start(next.get().getKey(), next.get().getValue());
    }
    if (!shuttingDown) {
      for (String id : running.keySet()) {
        List<String> more = scheduler.grow(id, scheduler.placement(id));
        if (more.isEmpty()) continue;
        note(id, "Placed", "also on " + String.join(", ", more) + " (a node joined or memory was freed)");
        serve(id, more);
      }
    }
    String slots = running.size() >= maxConcurrent
        ? "waits for a slot: " + running.size() + " job(s) running (--max-concurrent " + maxConcurrent + ")" : null;
    for (Scheduler.Queued q : scheduler.queue()) jobs.get(q.id()).schedule.put("waiting", scheduler.why(q.id(), slots));
    for (String id : running.keySet()) {
      ArrayNode on = jobs.get(id).schedule.putArray("nodes");
      scheduler.placement(id).forEach(on::add);
    }
  }

  /** Puts job {@code id} in the scheduler's queue with its estimate; false if the estimate failed the job. */
  private boolean enqueue(String id, long seq) {
    JobSpec spec = specs.get(id);
    JobView v = jobs.get(id);
    JobEstimate e;
    try {
      e = JobEstimate.of(local.apply(spec));
    } catch (IllegalArgumentException ex) {
      end(id, JobStore.State.FAILED, "no memory estimate: " + ex.getMessage());
      return false;
    }
    int priority = spec.getInt("priority");
    v.schedule.put("priority", priority);
    v.schedule.put("memoryBytes", e.bytes());
    v.schedule.put("memory", e.describe());
    scheduler.enqueue(new Scheduler.Queued(id, priority, seq, e.bytes(), spec.getInt("workers.min")));
    v.schedule.put("waiting", scheduler.why(id, null));
    return true;
  }

  private void start(Scheduler.Queued q, List<String> nodes) {
    String id = q.id();
    JobView v = jobs.get(id);
    v.record = v.record.with(JobStore.State.RUNNING, null);
    v.schedule.remove("waiting");
    store.save(v.record);
    note(id, "Started", "coordinator started (" + running.size() + " other jobs running)");
    note(id, "Placed", "on " + String.join(", ", nodes) + " (needs " + NodeMemory.show(q.estimate())
        + " per worker, priority " + q.priority() + ")");
    ActorRef<CoordinatorActor.Command> c =
        getContext()
            .spawn(
                CoordinatorActor.create(new JobId(id), specs.get(id), store.outDir(id), inbox, events,
                    CoordinatorActor.PLACED_KEY),
                "coordinator-" + id);
    getContext().watchWith(c, new CoordinatorStopped(id));
    running.put(id, c);
    @SuppressWarnings("unchecked")
    Class<Endpoint<CoordinatorMessage>> type = (Class<Endpoint<CoordinatorMessage>>) (Class<?>) Endpoint.class;
    getContext().ask(type, c, java.time.Duration.ofSeconds(30), CoordinatorActor.GetEndpoint::new,
        (ep, failure) -> new EndpointKnown(ep == null ? "" : id, ep == null ? null : ep.actor()));
    metrics.started(id);
  }

  /** Tells the agents of {@code nodes} to serve job {@code id}'s coordinator (once its endpoint is known). */
  private void serve(String id, List<String> nodes) {
    ActorRef<CoordinatorMessage> wire = wires.get(id);
    if (wire == null) return;
    for (String n : nodes) {
      Scheduler.Node node = scheduler.nodes().get(n);
      if (node != null) node.capacity.agent().tell(new NodeMessage.Serve(new JobId(id), wire));
    }
  }

  /** The job's coordinator is done: its memory is free for the queue. */
  private void stopped(String id) {
    running.remove(id);
    wires.remove(id);
    scheduler.release(id);
  }

  private Behavior<Command> onNodesListed(NodesListed l) {
    java.util.Set<ActorRef<NodeMessage>> now = l.listing().getServiceInstances(WorkerNode.NODE_KEY);
    agents.keySet().retainAll(now);
    scheduler.retain(new java.util.HashSet<>(agents.values()));
    for (ActorRef<NodeMessage> a : now) {
      if (!agents.containsKey(a)) a.tell(new NodeMessage.Describe(nodeReplies));
    }
    startWhatFits();
    return this;
  }

  private void end(String id, JobStore.State state, String reason) {
    JobView v = jobs.get(id);
    v.record = v.record.with(state, reason);
    store.save(v.record);
    if (state == JobStore.State.CANCELLED) note(id, "Cancelled", reason);
    metrics.ended(id, state);
  }

  /** A service event (not the coordinator's) in the job's event list and log. */
  private void note(String id, String kind, String detail) {
    ObjectNode n = JSON.createObjectNode();
    n.put("event", kind);
    n.put("job", id);
    n.put("detail", detail);
    n.put("time", System.currentTimeMillis());
    store.append(id, n);
    jobs.get(id).add(n);
  }
}
