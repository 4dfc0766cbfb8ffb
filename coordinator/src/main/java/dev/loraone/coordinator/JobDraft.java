package dev.loraone.coordinator;

import dev.loraone.coordinator.state.CoordinatorState;
import dev.loraone.coordinator.state.Effect;
import dev.loraone.coordinator.state.Event;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferOutcome;
import dev.loraone.protocol.wire.CoordinatorMessage.Evaluated;
import dev.loraone.protocol.wire.CoordinatorMessage.GradientsComputed;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.CoordinatorMessage.RegisterWorker;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The mutable working copy of a {@link RunningJob} for one message: turns the message into
 * {@link Event}s, feeds them to the {@link CoordinatorState} and carries out its {@link Effect}s
 * through the {@link Ports}; {@link #freeze} gives the next immutable {@code RunningJob}.
 */
final class JobDraft {
  private final Ports io;
  private final RunningJob from;
  CoordinatorState state;
  Workers workers;
  SketchReduction sketches;
  Training training;
  final TreeMap<Long, GradientsComputed> gradients;
  final TreeMap<Integer, Evaluated> evals;
  JobEvent.Evaluated lastEval;
  int timedStep;
  long stepStart;
  boolean adapterRequested;
  Path adapterDir;
  String adapterSha;
  Map<String, String> exported;
  final HashMap<TransferId, String> transfers;
  final HashMap<WorkItem, Integer> failures;
  JobEvent end;

  JobDraft(RunningJob r, Ports io) {
    this.io = io;
    from = r;
    state = r.state();
    workers = r.workers();
    sketches = r.sketches();
    training = r.training();
    gradients = new TreeMap<>(r.gradients());
    evals = new TreeMap<>(r.evals());
    lastEval = r.lastEval();
    timedStep = r.timedStep();
    stepStart = r.stepStart();
    adapterRequested = r.adapterRequested();
    adapterDir = r.adapterDir();
    adapterSha = r.adapterSha();
    exported = r.exported();
    transfers = new HashMap<>(r.transfers());
    failures = new HashMap<>(r.failures());
    end = r.end();
  }

  RunningJob freeze() {
    return new RunningJob(
        from.layout(),
        from.reference(),
        state,
        workers,
        sketches,
        training,
        gradients,
        evals,
        lastEval,
        timedStep,
        stepStart,
        adapterRequested,
        adapterDir,
        adapterSha,
        exported,
        transfers,
        failures,
        end);
  }

  // ---- inputs ----

  void onMessage(CoordinatorMessage m) {
    if (m instanceof RegisterWorker r) register(r);
    else if (m instanceof JobJoined j) joined(j);
    else if (m instanceof CoordinatorMessage.InitShardAccumulated a) {
      if (ours(a.job())) feed(new Event.ShardReady(a.worker().value(), a.group(), a.shard()));
    } else if (m instanceof CoordinatorMessage.SketchReply s) sketch(s);
    else if (m instanceof GradientsComputed g) gradient(g);
    else if (m instanceof Evaluated v) evaluated(v);
    else if (m instanceof CoordinatorMessage.Exported x) {
      if (ours(x.job()) && state.phase() == Phase.EXPORT && x.worker().value().equals(state.exporter())) {
        exported = x.files();
        feed(new Event.Exported(x.worker().value()));
      }
    } else if (m instanceof CoordinatorMessage.WorkFailed f) workFailed(f);
    // Heartbeat: liveness comes from the watch for now.
  }

  private boolean ours(JobId job) {
    return io.job().equals(job);
  }

  private void register(RegisterWorker r) {
    String w = r.worker().value();
    Endpoint<WorkerMessage> old = workers.get(w);
    if (old != null && !old.actor().equals(r.endpoint().actor()) && state.workers().contains(w)) {
      feed(new Event.WorkerLeft(w)); // its old incarnation is gone with its units
    }
    workers = RunningJob.register(io, workers, r, from.layout().modelHash() == null ? CoordinatorActor.UNVERIFIED_MODEL
        : from.layout().modelHash());
  }

  private void joined(JobJoined j) {
    String w = j.worker().value();
    if (!ours(j.job()) || workers.get(w) == null) return;
    String diff = JobLayout.difference(from.reference(), j.layout());
    if (diff != null) lose(w, "its layout does not match the job's: " + diff, true);
    else feed(new Event.WorkerJoined(w));
  }

  private void sketch(CoordinatorMessage.SketchReply s) {
    String w = s.worker().value();
    if (!ours(s.job()) || sketches == null || state.phase() != Phase.SVD_INIT || s.group() != state.group()
        || s.group() != sketches.group() || s.round() != state.round()
        || !w.equals(state.shardOwner().get(s.shard())) || !state.shardsReady().contains(s.shard())
        || state.sketchesIn().contains(s.shard())) {
      return;
    }
    try {
      sketches = sketches.withProduct(s.round(), s.shard(), s.layer(), s.product());
    } catch (IllegalArgumentException e) {
      feed(new Event.Failed("worker " + w + ": " + e.getMessage()));
      return;
    }
    if (sketches.complete(s.shard())) feed(new Event.SketchReceived(w, s.group(), s.round(), s.shard()));
  }

  private void gradient(GradientsComputed g) {
    long index = g.microBatch();
    if (!ours(g.job())
        || state.phase() != Phase.TRAINING
        || g.step() != state.step()
        || !state.inFlight().containsKey(index)
        || gradients.containsKey(index)) {
      return;
    }
    String problem = training.problem(g);
    if (problem != null) {
      feed(
          new Event.Failed(
              "worker "
                  + g.worker()
                  + ", micro-batch "
                  + index
                  + " of step "
                  + state.step()
                  + ": "
                  + problem));
      return;
    }
    gradients.put(index, g);
    feed(new Event.GradientReceived(g.worker().value(), state.step(), index));
  }

  private void evaluated(Evaluated v) {
    if (!ours(v.job()) || state.phase() != Phase.EVALUATION || v.step() != state.step()
        || !state.inFlight().containsKey((long) v.batch()) || evals.containsKey(v.batch())) {
      return;
    }
    evals.put(v.batch(), v);
    if (evals.size() == state.plan().evalBatches()) {
      double lossSum = 0;
      double weight = 0;
      int examples = 0;
      Map<String, Double> sums = new TreeMap<>();
      for (Evaluated e : evals.values()) { // batch order
        lossSum += e.lossSum();
        weight += e.weight();
        examples += e.examples();
        e.sums().forEach((k, x) -> sums.merge(k, x, Double::sum));
      }
      double loss = lossSum / Math.max(1, weight);
      lastEval =
          new JobEvent.Evaluated(
              io.job(),
              state.step(),
              loss,
              TaskMetrics.summarise(from.layout().taskType(), loss, examples, sums),
              examples);
      io.report(lastEval);
      evals.clear();
    }
    feed(new Event.EvalReceived(v.worker().value(), state.step(), v.batch()));
  }

  /** Retries a unit a worker could not do by taking the worker out and back in, which reassigns its units. */
  private void workFailed(CoordinatorMessage.WorkFailed f) {
    String w = f.worker().value();
    if (ours(f.job()) && f.item() instanceof WorkItem.Join && workers.get(w) != null) {
      lose(w, "it could not join: " + f.reason(), false);
      return;
    }
    if (!ours(f.job()) || !state.awaits(f.item(), w)) return;
    int n = failures.merge(f.item(), 1, Integer::sum);
    if (n >= RunningJob.MAX_ATTEMPTS) {
      feed(new Event.Failed(f.item() + " failed " + n + " times, last on worker " + w + ": " + f.reason()));
      return;
    }
    io.log().warn("worker {} could not do {}: {}; reassigning", w, f.item(), f.reason());
    feed(new Event.WorkerLeft(w));
    feed(new Event.WorkerJoined(w));
  }

  /** The incarnation whose actor is {@code actor} stopped. */
  void stopped(String w, Object actor) {
    if (!workers.isCurrent(w, actor)) return;
    workers = workers.without(w);
    if (state.workers().contains(w)) feed(new Event.WorkerLeft(w));
  }

  void transferEnded(TransferOutcome o) {
    String w = transfers.remove(o.transfer());
    if (o instanceof TransferOutcome.Failed f && w != null && workers.get(w) != null) {
      lose(w, "a transfer to it failed: " + f.reason(), false);
    }
  }

  void written(Writer.Written w) {
    if (w instanceof Writer.CheckpointWritten c) CoordinatorActor.reportCheckpoint(io, c);
    else if (w instanceof Writer.AdapterWritten a) {
      if (a.failure() != null) {
        feed(new Event.Failed(a.failure()));
      } else {
        adapterDir = a.dir();
        adapterSha = a.sha256();
        if (state.phase() == Phase.EXPORT && state.exporter() != null) sendExport(state.exporter());
      }
    }
  }

  void cancel(String reason) {
    feed(new Event.Failed("cancelled: " + reason));
  }

  /** Drops a worker from the job: rejected (it may not come back with this layout) or unreachable. */
  private void lose(String w, String reason, boolean rejected) {
    Endpoint<WorkerMessage> e = workers.get(w);
    io.log().warn("dropping worker {}: {}", w, reason);
    if (e != null) {
      e.actor().tell(rejected ? new WorkerMessage.RegistrationRejected(new WorkerId(w), reason)
          : new WorkerMessage.CancelJob(io.job(), reason));
      io.unwatch(e.actor());
    }
    workers = workers.without(w);
    if (state.workers().contains(w)) feed(new Event.WorkerLeft(w));
    else
      io.report(
          new JobEvent.WorkersChanged(
              io.job(),
              List.copyOf(state.workers()),
              w + (rejected ? " rejected: " : " dropped: ") + reason));
  }

  // ---- the state model and its effects ----

  void feed(Event first) {
    Deque<Event> queue = new ArrayDeque<>();
    queue.add(first);
    while (!queue.isEmpty()) {
      Event e = queue.poll();
      CoordinatorState before = state;
      CoordinatorState.Next n = state.on(e);
      state = n.state();
      if (!state.workers().equals(before.workers())) {
        String what =
            e instanceof Event.WorkerJoined j
                ? j.worker() + " joined"
                : e instanceof Event.WorkerLeft l ? l.worker() + " left" : "";
        io.report(new JobEvent.WorkersChanged(io.job(), List.copyOf(state.workers()), what));
      }
      if (state.phase() != before.phase() && !state.phase().finished()) {
        io.report(new JobEvent.PhaseChanged(io.job(), state.phase(),
            PhaseDetail.of(state, (sketches == null ? from.layout().modules() : sketches.modules()).size(),
                io.outDir().resolve(RunningJob.ADAPTER_DIR))));
      }
      execute(n.effects(), queue);
    }
  }

  private record SketchOrder(String worker, int group, int round) {}

  private void execute(List<Effect> effects, Deque<Event> queue) {
    Map<SketchOrder, NavigableSet<Integer>> sketchOrders = new LinkedHashMap<>();
    for (Effect f : effects) {
      if (f instanceof Effect.RequestSketch r) {
        sketchOrders.computeIfAbsent(new SketchOrder(r.worker(), r.group(), r.round()), k -> new TreeSet<>())
            .add(r.shard());
        continue;
      }
      requestSketches(sketchOrders);
      if (f instanceof Effect.SendSpec s) {
        if (training != null) send(s.worker(), version());
      } else if (f instanceof Effect.ComputeShard c) {
        if (sketches != null) sketches = sketches.without(c.shard());
        List<Integer> mbs = new ArrayList<>();
        for (int i : c.microBatches()) mbs.add(i);
        send(c.worker(), new WorkerMessage.AssignInitShard(io.job(), c.group(), c.shard(), mbs,
            sketches == null ? from.layout().modules() : sketches.modules()));
      } else if (f instanceof Effect.ReduceSketch r) {
        try {
          sketches = sketches.reduce(r.round(), r.shardOrder());
        } catch (IllegalArgumentException e) {
          queue.add(new Event.Failed(e.getMessage()));
        }
      } else if (f instanceof Effect.FinishGroup g) {
        try {
          sketches = sketches.nextGroup(io.setup().stableGamma(), io.setup().initIters());
        } catch (IllegalArgumentException | IllegalStateException e) {
          queue.add(new Event.Failed("init of module group " + g.group() + ": " + e.getMessage()));
        }
      } else if (f instanceof Effect.FinishInit) {
        finishInit(queue);
      } else if (f instanceof Effect.ComputeGradient g) {
        if (g.step() != timedStep) {
          timedStep = g.step();
          stepStart = System.nanoTime();
        }
        send(g.worker(), new WorkerMessage.ComputeGradients(io.job(), g.step(), Math.toIntExact(g.index())));
      } else if (f instanceof Effect.ApplyStep a) {
        applyStep(a, queue);
      } else if (f instanceof Effect.Evaluate v) {
        send(v.worker(), new WorkerMessage.Evaluate(io.job(), v.afterStep(), v.batch()));
      } else if (f instanceof Effect.Export x) {
        export(x.worker());
      } else if (f instanceof Effect.Finished d) {
        finished(d);
      }
    }
    requestSketches(sketchOrders);
  }

  /** One SketchRequest per module for each (owner, round), naming all of the owner's shards. */
  private void requestSketches(Map<SketchOrder, NavigableSet<Integer>> orders) {
    if (orders.isEmpty()) return;
    List<SketchReduction.Request> requests = new ArrayList<>();
    for (int i = 0; i < sketches.modules().size(); i++) requests.add(sketches.request(i));
    orders.forEach(
        (o, shards) -> {
          if (o.group() != sketches.group() || o.round() != sketches.round())
            return; // the round's reduction failed: the job is failing
          for (int i = 0; i < requests.size(); i++) {
            send(
                o.worker(),
                new WorkerMessage.SketchRequest(
                    io.job(),
                    o.group(),
                    o.round(),
                    sketches.modules().get(i),
                    requests.get(i).side(),
                    List.copyOf(shards),
                    requests.get(i).operand()));
          }
        });
    orders.clear();
  }

  private void finishInit(Deque<Event> queue) {
    JobSetup setup = io.setup();
    try {
      List<LoraPair> pairs = new ArrayList<>();
      if (from.layout().gradientInit()) {
        for (InitResult r : sketches.finish(setup.stableGamma(), setup.initIters()))
          pairs.add(new LoraPair(r.a(), r.b()));
      } else {
        pairs.addAll(from.layout().init());
      }
      training = Training.start(setup, from.layout(), pairs);
      sketches = null;
    } catch (IllegalArgumentException | IllegalStateException e) {
      queue.add(new Event.Failed("init: " + e.getMessage()));
      return;
    }
    broadcast(version());
    io.checkpoint(training.checkpoint(setup.specSha256(), "INIT"));
  }

  private void applyStep(Effect.ApplyStep a, Deque<Event> queue) {
    List<GradientsComputed> inOrder = new ArrayList<>();
    for (long i = a.firstIndex(); i < a.firstIndex() + a.count(); i++) {
      GradientsComputed g = gradients.get(i);
      if (g == null) throw new IllegalStateException("step " + a.step() + " applied without micro-batch " + i);
      inOrder.add(g);
    }
    Training.StepResult r;
    try {
      r = training.apply(a.step(), inOrder);
    } catch (AdapterTrainer.DivergedException e) {
      queue.add(new Event.Failed(e.getMessage()));
      return;
    }
    gradients.clear();
    broadcast(version());
    io.report(
        new JobEvent.StepDone(
            io.job(),
            a.step(),
            state.plan().steps(),
            r.loss(),
            r.metrics(),
            r.info().lr(),
            r.info().gradNorm(),
            (System.nanoTime() - stepStart) / 1e9));
    if (io.setup().checkpointsAfter(a.step()))
      io.checkpoint(training.checkpoint(io.setup().specSha256(), state.phase().name()));
    queue.add(new Event.StepApplied(a.step()));
  }

  private void export(String w) {
    if (adapterSha != null) {
      sendExport(w);
    } else if (!adapterRequested) {
      adapterRequested = true;
      io.writeAdapter(
          training.toPeft(
              io.setup()
                  .peftConfig(
                      from.layout().baseModel(), from.layout().taskType(), from.layout().modules())),
          from.layout().labels(),
          io.outDir().resolve(RunningJob.ADAPTER_DIR));
    }
  }

  private void sendExport(String w) {
    send(
        w,
        new WorkerMessage.Export(
            io.job(),
            state.plan().steps(),
            io.outDir().resolve(RunningJob.MODEL_DIR).toAbsolutePath().toString(),
            io.spec().getBoolean("export.onnx") ? List.of("onnx") : List.of()));
  }

  private void finished(Effect.Finished f) {
    boolean done = f.phase() == Phase.DONE;
    end =
        done
            ? new JobEvent.Finished(io.job(), adapterDir, adapterSha, lastEval, exported)
            : new JobEvent.Failed(io.job(), f.reason());
    String why = done ? "the job is done" : "the job failed: " + f.reason();
    workers.endpoints().values().forEach(e -> e.actor().tell(new WorkerMessage.CancelJob(io.job(), why)));
  }

  private WorkerMessage.AdapterVersion version() {
    return new WorkerMessage.AdapterVersion(io.job(), training.steps(), training.adapters());
  }

  private void broadcast(WorkerMessage m) {
    for (String w : state.workers()) send(w, m);
  }

  private void send(String w, WorkerMessage m) {
    Endpoint<WorkerMessage> e = workers.get(w);
    if (e != null) io.send(e, m).ifPresent(id -> transfers.put(id, w));
  }
}
