package dev.loraone.coordinator.state;

import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.wire.WorkItem;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The coordinator's decisions for one job as a pure transition model: {@code on(event)} returns the
 * next state and the effects to carry out. The actor turns messages into {@link Event}s and {@link
 * Effect}s into messages; everything here is testable without a cluster.
 *
 * <pre>
 * WAITING_FOR_WORKERS -> GRADIENT_ACCUMULATION -> SVD_INIT -> TRAINING <-> EVALUATION -> EXPORT -> DONE
 *          any phase -> FAILED (with a reason)
 *
 * WAITING_FOR_WORKERS -> EVALUATION (step 0) -> the init   a plan with the step-0 (zero-shot) evaluation
 *
 * GRADIENT_ACCUMULATION -> SVD_INIT -> GRADIENT_ACCUMULATION ...   once per module group (init.memory-budget), then
 *                                                                  TRAINING after the last group's last round
 * WAITING_FOR_WORKERS -> TRAINING                     the init ran on the workers (a plan without gradient init)
 * WAITING_FOR_WORKERS -> TRAINING | EVALUATION         resumed from a checkpoint after step s ({@link #resume})
 * </pre>
 *
 * <p>Work units are addressed by index (init shard, SVD round x shard, training micro-batch, eval
 * batch) and assigned round-robin over the live workers in name order. A worker that leaves loses
 * its units: they are reassigned, and the shards it owned are recomputed by their new owner (the
 * shard's gradient lived only on its owner), after which only the missing products of the current
 * SVD round are requested again. Results are idempotent by address: a duplicate or stale result
 * changes nothing. With no live worker, units wait unassigned until one joins.
 */
public record CoordinatorState(
    JobPlan plan,
    Phase phase,
    NavigableSet<String> workers,
    NavigableMap<Integer, String> shardOwner,
    NavigableSet<Integer> shardsReady,
    int round,
    NavigableSet<Integer> sketchesIn,
    int step,
    NavigableMap<Long, String> inFlight,
    NavigableSet<Long> received,
    String exporter,
    String failure,
    boolean initDone,
    int group) {

  /** A transition's outcome. */
  public record Next(CoordinatorState state, List<Effect> effects) {}

  public static CoordinatorState start(JobPlan plan) {
    return new CoordinatorState(plan, Phase.WAITING_FOR_WORKERS, new TreeSet<>(), new TreeMap<>(), new TreeSet<>(), 0,
        new TreeSet<>(), 0, new TreeMap<>(), new TreeSet<>(), null, null, false, 0);
  }

  /**
   * A job restored from a checkpoint taken after {@code step} optimizer steps (0: right after the
   * init): once enough workers join it evaluates step {@code step} if the plan evaluates after it,
   * else it trains step {@code step + 1}. No init effect is emitted: the actor restored the init.
   */
  public static CoordinatorState resume(JobPlan plan, int step) {
    if (step < 0 || step > plan.steps()) {
      throw new IllegalArgumentException(
          "checkpoint step=" + step + " is outside [0, train.steps=" + plan.steps() + "]");
    }
    return new CoordinatorState(plan, Phase.WAITING_FOR_WORKERS, new TreeSet<>(), new TreeMap<>(), new TreeSet<>(),
        plan.svdRounds(), new TreeSet<>(), step, new TreeMap<>(), new TreeSet<>(), null, null, true,
        plan.initGroups() - 1);
  }

  /**
   * Whether worker {@code w}'s result of {@code item} is still awaited: the unit is of the current
   * phase (group, round, step) and assigned to {@code w}, and its result has not come in.
   */
  public boolean awaits(WorkItem item, String w) {
    if (item instanceof WorkItem.InitShard s)
      return s.group() == group()
          && w.equals(shardOwner().get(s.shard()))
          && !shardsReady().contains(s.shard());
    if (item instanceof WorkItem.Sketch s) {
      return phase() == Phase.SVD_INIT
          && s.group() == group()
          && s.round() == round()
          && w.equals(shardOwner().get(s.shard()));
    }
    if (item instanceof WorkItem.Gradients g) {
      return phase() == Phase.TRAINING
          && g.step() == step()
          && w.equals(inFlight().get((long) g.microBatch()))
          && !received().contains((long) g.microBatch());
    }
    if (item instanceof WorkItem.Evaluation e) {
      return phase() == Phase.EVALUATION
          && e.step() == step()
          && w.equals(inFlight().get((long) e.batch()));
    }
    return phase() == Phase.EXPORT && w.equals(exporter());
  }

  public CoordinatorState {
    workers = Collections.unmodifiableNavigableSet(new TreeSet<>(workers));
    shardOwner = Collections.unmodifiableNavigableMap(new TreeMap<>(shardOwner));
    shardsReady = Collections.unmodifiableNavigableSet(new TreeSet<>(shardsReady));
    sketchesIn = Collections.unmodifiableNavigableSet(new TreeSet<>(sketchesIn));
    inFlight = Collections.unmodifiableNavigableMap(new TreeMap<>(inFlight));
    received = Collections.unmodifiableNavigableSet(new TreeSet<>(received));
  }

  public Next on(Event event) {
    Draft d = new Draft(this);
    if (!phase.finished()) d.apply(event);
    return new Next(d.freeze(), List.copyOf(d.effects));
  }

  /** Mutable working copy for one transition. */
  private static final class Draft {
    final JobPlan plan;
    Phase phase;
    final TreeSet<String> workers;
    final TreeMap<Integer, String> shardOwner;
    final TreeSet<Integer> shardsReady;
    int round;
    final TreeSet<Integer> sketchesIn;
    int step;
    final TreeMap<Long, String> inFlight;
    final TreeSet<Long> received;
    String exporter;
    String failure;
    boolean initDone;
    int group;
    final List<Effect> effects = new ArrayList<>();

    Draft(CoordinatorState s) {
      plan = s.plan;
      phase = s.phase;
      workers = new TreeSet<>(s.workers);
      shardOwner = new TreeMap<>(s.shardOwner);
      shardsReady = new TreeSet<>(s.shardsReady);
      round = s.round;
      sketchesIn = new TreeSet<>(s.sketchesIn);
      step = s.step;
      inFlight = new TreeMap<>(s.inFlight);
      received = new TreeSet<>(s.received);
      exporter = s.exporter;
      failure = s.failure;
      initDone = s.initDone;
      group = s.group;
    }

    CoordinatorState freeze() {
      return new CoordinatorState(
          plan,
          phase,
          workers,
          shardOwner,
          shardsReady,
          round,
          sketchesIn,
          step,
          inFlight,
          received,
          exporter,
          failure,
          initDone,
          group);
    }

    void apply(Event e) {
      if (e instanceof Event.WorkerJoined j) joined(j.worker());
      else if (e instanceof Event.WorkerLeft l) left(l.worker());
      else if (e instanceof Event.ShardReady r) shardReady(r);
      else if (e instanceof Event.SketchReceived k) sketch(k);
      else if (e instanceof Event.GradientReceived g) gradient(g);
      else if (e instanceof Event.StepApplied a) stepApplied(a.step());
      else if (e instanceof Event.EvalReceived v) evalReceived(v);
      else if (e instanceof Event.Exported x) {
        if (phase == Phase.EXPORT && x.worker().equals(exporter)) finish(Phase.DONE, "exported by " + x.worker());
      } else if (e instanceof Event.Failed f) finish(Phase.FAILED, f.reason());
    }

    private void joined(String w) {
      if (!workers.add(w)) return;
      effects.add(new Effect.SendSpec(w));
      if (phase == Phase.WAITING_FOR_WORKERS) {
        if (workers.size() >= plan.minWorkers()) begin();
      } else {
        assignOrphans();
      }
    }

    private void left(String w) {
      if (!workers.remove(w)) return;
      for (Integer s : new ArrayList<>(shardOwner.keySet())) {
        if (w.equals(shardOwner.get(s))) {
          shardOwner.put(s, null);
          shardsReady.remove(s);
        }
      }
      inFlight.replaceAll((unit, owner) -> w.equals(owner) ? null : owner);
      if (w.equals(exporter)) exporter = null;
      assignOrphans();
    }

    private void begin() {
      if (initDone) {
        if (step > 0 && plan.evaluatesAfter(step)) startEvaluation();
        else startStep(step + 1);
      } else if (plan.evalStepZero()) {
        startEvaluation(); // step 0: the model as the workers opened it
      } else {
        startInit();
      }
    }

    private void startInit() {
      if (!plan.gradientInit()) {
        finishInit();
      } else {
        startAccumulation();
      }
    }

    private void finishInit() {
      initDone = true;
      effects.add(new Effect.FinishInit());
      startStep(1);
    }

    /** The accumulation of module group {@code group}: every shard (re)assigned, none ready. */
    private void startAccumulation() {
      phase = Phase.GRADIENT_ACCUMULATION;
      shardsReady.clear();
      sketchesIn.clear();
      for (int s = 0; s < plan.initShards(); s++) shardOwner.put(s, null);
      assignOrphans();
    }

    /** Gives every unowned unit of the current phase to a live worker (round-robin by index). */
    private void assignOrphans() {
      if (workers.isEmpty()) return;
      List<String> ws = new ArrayList<>(workers);
      for (Integer s : shardOwner.keySet()) {
        if (shardOwner.get(s) == null) {
          String w = ws.get(s % ws.size());
          shardOwner.put(s, w);
          effects.add(new Effect.ComputeShard(w, group, s, plan.shardMicroBatches(s)));
        }
      }
      for (Long unit : inFlight.keySet()) {
        if (inFlight.get(unit) == null) {
          String w = ws.get((int) (unit % ws.size()));
          inFlight.put(unit, w);
          effects.add(phase == Phase.EVALUATION ? new Effect.Evaluate(w, step, unit.intValue())
              : new Effect.ComputeGradient(w, step, unit));
        }
      }
      if (phase == Phase.EXPORT && exporter == null) {
        exporter = ws.get(0);
        effects.add(new Effect.Export(exporter));
      }
    }

    private void shardReady(Event.ShardReady r) {
      if (r.group() != group || !r.worker().equals(shardOwner.get(r.shard())) || !shardsReady.add(r.shard())) return;
      if (phase == Phase.GRADIENT_ACCUMULATION && shardsReady.size() == plan.initShards()) {
        phase = Phase.SVD_INIT;
        round = 0;
        sketchesIn.clear();
        requestSketches();
      } else if (phase == Phase.SVD_INIT && !sketchesIn.contains(r.shard())) {
        effects.add(new Effect.RequestSketch(r.worker(), group, round, r.shard()));
      }
    }

    private void requestSketches() {
      for (Integer s : shardsReady) {
        if (!sketchesIn.contains(s)) effects.add(new Effect.RequestSketch(shardOwner.get(s), group, round, s));
      }
    }

    private void sketch(Event.SketchReceived k) {
      if (phase != Phase.SVD_INIT || k.group() != group || k.round() != round
          || !k.worker().equals(shardOwner.get(k.shard()))
          || !shardsReady.contains(k.shard()) || !sketchesIn.add(k.shard())) {
        return;
      }
      if (sketchesIn.size() < plan.initShards()) return;
      effects.add(new Effect.ReduceSketch(group, round, List.copyOf(sketchesIn)));
      round++;
      sketchesIn.clear();
      if (round < plan.svdRounds()) {
        requestSketches();
      } else if (group + 1 < plan.initGroups()) {
        effects.add(new Effect.FinishGroup(group));
        group++;
        round = 0;
        startAccumulation();
      } else {
        finishInit();
      }
    }

    private void startStep(int t) {
      phase = Phase.TRAINING;
      step = t;
      inFlight.clear();
      received.clear();
      for (int k = 0; k < plan.microBatchesPerStep(); k++) inFlight.put(plan.microBatch(t, k), null);
      assignOrphans();
    }

    private void gradient(Event.GradientReceived g) {
      if (phase != Phase.TRAINING
          || g.step() != step
          || !inFlight.containsKey(g.index())
          || !received.add(g.index())) return;
      if (received.size() == plan.microBatchesPerStep()) {
        effects.add(new Effect.ApplyStep(step, plan.microBatch(step, 0), plan.microBatchesPerStep()));
      }
    }

    private void stepApplied(int t) {
      if (phase != Phase.TRAINING || t != step || received.size() != plan.microBatchesPerStep()) return;
      if (plan.evaluatesAfter(t)) startEvaluation();
      else startStep(t + 1);
    }

    private void startEvaluation() {
      phase = Phase.EVALUATION;
      inFlight.clear();
      received.clear();
      for (long b = 0; b < plan.evalBatches(); b++) inFlight.put(b, null);
      assignOrphans();
    }

    private void evalReceived(Event.EvalReceived v) {
      if (phase != Phase.EVALUATION || v.afterStep() != step || !inFlight.containsKey((long) v.batch())
          || !received.add((long) v.batch())) {
        return;
      }
      if (received.size() < plan.evalBatches()) return;
      if (!initDone) {
        inFlight.clear();
        received.clear();
        startInit();
      } else if (step == plan.steps()) {
        phase = Phase.EXPORT;
        inFlight.clear();
        received.clear();
        exporter = null;
        assignOrphans();
      } else {
        startStep(step + 1);
      }
    }

    private void finish(Phase end, String reason) {
      phase = end;
      failure = end == Phase.FAILED ? reason : null;
      effects.add(new Effect.Finished(end, reason));
    }
  }
}
