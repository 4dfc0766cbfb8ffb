package dev.loraone.coordinator.state;

import dev.loraone.protocol.job.Phase;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * The transition model driven by a simulated cluster: effects become result events in FIFO order,
 * results of workers that have left are lost. The "reduction log" (ReduceSketch, FinishInit,
 * ApplyStep, Finished) is what determines the adapter bytes, so it must not depend on membership.
 */
class CoordinatorStateTest {
  // 4 shards x 2 init micro-batches, 6 SVD rounds (niter = 2), 5 steps of 3 micro-batches, eval every 2 steps
  private static final JobPlan PLAN = new JobPlan(4, 8, 6, 5, 3, 2, 2, 1);

  /** Runs effects as a well-behaved cluster would; {@code hook} may inject events before each delivery. */
  private static final class Sim {
    CoordinatorState state;
    final Deque<Effect> pending = new ArrayDeque<>();
    final List<String> reductions = new ArrayList<>();
    final Set<String> alive = new HashSet<>();
    int delivered;

    Sim() {
      this(PLAN);
    }

    Sim(JobPlan plan) {
      state = CoordinatorState.start(plan);
    }

    void event(Event e) {
      CoordinatorState.Next n = state.on(e);
      state = n.state();
      for (Effect f : n.effects()) {
        if (f instanceof Effect.ReduceSketch r)
          reductions.add((state.plan().initGroups() > 1 ? "group " + r.group() + " " : "")
              + "reduce round " + r.round() + " " + r.shardOrder());
        else if (f instanceof Effect.FinishGroup g) reductions.add("group " + g.group() + " done");
        else if (f instanceof Effect.FinishInit) reductions.add("init");
        else if (f instanceof Effect.ApplyStep a)
          reductions.add("step " + a.step() + " from " + a.firstIndex() + " x " + a.count());
        else if (f instanceof Effect.Finished d) reductions.add("finished " + d.phase());
        pending.add(f);
      }
    }

    void join(String w) {
      alive.add(w);
      event(new Event.WorkerJoined(w));
    }

    void leave(String w) {
      alive.remove(w);
      event(new Event.WorkerLeft(w));
    }

    void run(BiConsumer<Sim, Integer> hook) {
      while (!pending.isEmpty() && delivered < 10_000) {
        hook.accept(this, delivered);
        Effect f = pending.poll();
        if (f == null) break;
        delivered++;
        Event e = resultOf(f);
        if (e != null) event(e);
      }
    }

    private Event resultOf(Effect f) {
      if (f instanceof Effect.ComputeShard c)
        return alive.contains(c.worker()) ? new Event.ShardReady(c.worker(), c.group(), c.shard()) : null;
      if (f instanceof Effect.RequestSketch r)
        return alive.contains(r.worker())
            ? new Event.SketchReceived(r.worker(), r.group(), r.round(), r.shard())
            : null;
      if (f instanceof Effect.ComputeGradient g)
        return alive.contains(g.worker())
            ? new Event.GradientReceived(g.worker(), g.step(), g.index())
            : null;
      if (f instanceof Effect.ApplyStep a) return new Event.StepApplied(a.step());
      if (f instanceof Effect.Evaluate v)
        return alive.contains(v.worker())
            ? new Event.EvalReceived(v.worker(), v.afterStep(), v.batch())
            : null;
      if (f instanceof Effect.Export x) return alive.contains(x.worker()) ? new Event.Exported(x.worker()) : null;
      return null;
    }
  }

  private static List<String> expectedReductions() {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < 6; r++) out.add("reduce round " + r + " [0, 1, 2, 3]");
    out.add("init");
    for (int t = 1; t <= 5; t++) out.add("step " + t + " from " + (t - 1) * 3 + " x 3");
    out.add("finished DONE");
    return out;
  }

  // PLAN with its gradient estimate in 3 module groups (init.memory-budget)
  private static final JobPlan GROUPED = PLAN.withInitGroups(3);

  /** Per group its 6 rounds over shards 0..3 in order, "group g done" between groups, then the same steps. */
  private static List<String> expectedGroupedReductions() {
    List<String> out = new ArrayList<>();
    for (int g = 0; g < 3; g++) {
      for (int r = 0; r < 6; r++) out.add("group " + g + " reduce round " + r + " [0, 1, 2, 3]");
      if (g < 2) out.add("group " + g + " done");
    }
    out.addAll(expectedReductions().subList(6, expectedReductions().size()));
    return out;
  }

  @Test
  void aGroupedPlanRunsEachGroupsAccumulationAndRoundsInTurnOnOneAndThreeWorkers() {
    Sim one = new Sim(GROUPED);
    one.join("w1");
    one.run((s, i) -> {});
    assertEquals(Phase.DONE, one.state.phase());
    assertEquals(expectedGroupedReductions(), one.reductions);
    Sim three = new Sim(GROUPED);
    three.join("w1");
    three.join("w2");
    three.join("w3");
    List<Effect> shardsAsked = new ArrayList<>();
    three.run((s, i) -> {
      if (s.pending.peek() instanceof Effect.ComputeShard c) shardsAsked.add(c);
    });
    assertEquals(expectedGroupedReductions(), three.reductions);
    for (int g = 0; g < 3; g++) {
      int group = g;
      assertEquals(4, shardsAsked.stream().filter(f -> ((Effect.ComputeShard) f).group() == group).count(),
          "every shard of group " + g + " computed once");
    }
  }

  @Test
  void aWorkerLeavingMidGroupHasItsShardsOfThatGroupRecomputedAndTheLogIsTheSame() {
    Sim sim = new Sim(GROUPED.withInitGroups(3)); // w2 owns shards 1 and 3
    sim.join("w1");
    sim.join("w2");
    List<Effect> afterLeave = new ArrayList<>();
    sim.run((s, i) -> {
      if (s.state.group() == 1 && s.state.phase() == Phase.SVD_INIT && s.state.round() == 3
          && s.alive.contains("w2")) {
        int before = s.pending.size();
        s.leave("w2");
        afterLeave.addAll(new ArrayList<>(s.pending).subList(before, s.pending.size()));
      }
    });
    assertEquals(expectedGroupedReductions(), sim.reductions);
    assertEquals(Phase.DONE, sim.state.phase());
    List<Effect.ComputeShard> recomputed = afterLeave.stream().filter(f -> f instanceof Effect.ComputeShard)
        .map(f -> (Effect.ComputeShard) f).toList();
    assertEquals(List.of(1, 3), recomputed.stream().map(Effect.ComputeShard::shard).toList(),
        "w1 recomputes w2's shards");
    assertTrue(recomputed.stream().allMatch(c -> c.group() == 1 && c.worker().equals("w1")), "of group 1");
  }

  @Test
  void aShardOrSketchOfAnotherGroupChangesNothing() {
    Sim sim = new Sim(GROUPED);
    sim.join("w1");
    sim.run((s, i) -> {
      if (s.state.group() == 1 && s.state.phase() == Phase.GRADIENT_ACCUMULATION && s.state.shardsReady().isEmpty()) {
        CoordinatorState before = s.state;
        s.event(new Event.ShardReady("w1", 0, 0)); // a late result of group 0
        s.event(new Event.SketchReceived("w1", 0, 5, 0));
        assertEquals(before, s.state, "stale results of group 0 are ignored in group 1");
      }
    });
    assertEquals(expectedGroupedReductions(), sim.reductions);
  }

  @Test
  void aResumedGroupedJobDoesNotRedoTheInit() {
    Sim sim = new Sim(GROUPED);
    sim.state = CoordinatorState.resume(GROUPED, 2);
    sim.join("w1");
    sim.run((s, i) -> {});
    assertEquals(Phase.DONE, sim.state.phase());
    assertEquals(List.of("step 3 from 6 x 3", "step 4 from 9 x 3", "step 5 from 12 x 3", "finished DONE"),
        sim.reductions);
  }

  @Test
  void oneWorkerRunsEveryPhaseToDone() {
    Sim sim = new Sim();
    sim.join("w1");
    sim.run((s, i) -> {});
    assertEquals(Phase.DONE, sim.state.phase());
    assertEquals(expectedReductions(), sim.reductions);
  }

  @Test
  void reductionsAreTheSameOnOneAndThreeWorkers() {
    Sim three = new Sim();
    three.join("w1");
    three.join("w2");
    three.join("w3");
    three.run((s, i) -> {});
    assertEquals(expectedReductions(), three.reductions);
    assertEquals(Phase.DONE, three.state.phase());
  }

  @Test
  void aStepZeroPlanEvaluatesTheOpenedModelBeforeTheInitAndAWorkerLeavingThenLosesNothing() {
    Sim sim = new Sim(PLAN.withStepZeroEvaluation(true));
    List<String> order = new ArrayList<>();
    sim.join("w1");
    sim.join("w2");
    sim.join("w3");
    assertEquals(Phase.EVALUATION, sim.state.phase());
    assertEquals(0, sim.state.step());
    assertFalse(sim.state.initDone());
    sim.run((s, i) -> {
      Effect next = s.pending.peek();
      if (next instanceof Effect.Evaluate v && v.afterStep() == 0) order.add("eval0 batch " + v.batch());
      if (next instanceof Effect.ComputeShard) order.add("shard");
      if (s.state.phase() == Phase.EVALUATION && s.state.step() == 0 && s.alive.contains("w2")) s.leave("w2");
    });
    assertEquals(expectedReductions(), sim.reductions, "the step-0 evaluation changes no reduction");
    assertEquals(Phase.DONE, sim.state.phase());
    int firstShard = order.indexOf("shard");
    assertTrue(firstShard > 0 && order.subList(firstShard, order.size()).stream().allMatch("shard"::equals),
        () -> "every step-0 batch is evaluated before the gradient estimate: " + order);
    assertTrue(order.contains("eval0 batch 0") && order.contains("eval0 batch 1"), order::toString);
  }

  @Test
  void aResumedJobDoesNotEvaluateStepZeroAgain() {
    Sim sim = new Sim(PLAN.withStepZeroEvaluation(true));
    sim.state = CoordinatorState.resume(PLAN.withStepZeroEvaluation(true), 0);
    sim.join("w1");
    assertEquals(Phase.TRAINING, sim.state.phase());
    assertEquals(1, sim.state.step());
  }

  @Test
  void workerLeavingMidTrainingHasItsMicroBatchesReassigned() {
    Sim sim = new Sim();
    sim.join("w1");
    sim.join("w2");
    sim.join("w3");
    sim.run((s, i) -> {
      if (s.state.phase() == Phase.TRAINING && s.state.step() == 3 && s.alive.contains("w2")) s.leave("w2");
    });
    assertEquals(expectedReductions(), sim.reductions);
    assertFalse(sim.state.workers().contains("w2"));
  }

  @Test
  void workerLeavingDuringSvdHasItsShardsRecomputedAndOnlyMissingProductsRequested() {
    Sim sim = new Sim(new JobPlan(4, 8, 6, 5, 3, 2, 2, 2)); // wait for 2 workers, so w2 owns shards 1 and 3
    sim.join("w1");
    sim.join("w2");
    List<Effect> afterLeave = new ArrayList<>();
    sim.run(
        (s, i) -> {
          if (s.state.phase() == Phase.SVD_INIT
              && s.state.round() == 2
              && s.state.sketchesIn().size() == 1
              && s.alive.contains("w2")) {
            int before = s.pending.size();
            s.leave("w2");
            afterLeave.addAll(new ArrayList<>(s.pending).subList(before, s.pending.size()));
          }
        });
    assertEquals(expectedReductions(), sim.reductions);
    assertFalse(afterLeave.isEmpty(), "the leave happened during round 2");
    long recomputed =
        afterLeave.stream()
            .filter(f -> f instanceof Effect.ComputeShard c && c.worker().equals("w1"))
            .count();
    assertEquals(2, recomputed, "w2 owned shards 1 and 3; w1 recomputes both");
    long reRequested = afterLeave.stream().filter(f -> f instanceof Effect.RequestSketch).count();
    assertEquals(0, reRequested, "products are requested again only once the recomputed shards are ready");
  }

  @Test
  void workIsHeldUntilAWorkerJoinsAgain() {
    Sim sim = new Sim();
    sim.join("w1");
    sim.run((s, i) -> {
      if (s.state.phase() == Phase.TRAINING && s.state.step() == 2 && s.alive.contains("w1")) s.leave("w1");
    });
    assertEquals(Phase.TRAINING, sim.state.phase(), "nobody left to compute step 2");
    assertTrue(sim.state.inFlight().values().stream().allMatch(java.util.Objects::isNull));
    sim.join("w9");
    sim.run((s, i) -> {});
    assertEquals(expectedReductions(), sim.reductions);
  }

  @Test
  void duplicateAndStaleResultsChangeNothing() {
    Sim sim = new Sim();
    sim.join("w1");
    sim.run((s, i) -> {
      if (s.state.phase() == Phase.TRAINING && s.state.step() == 2 && s.state.received().size() == 1) {
        long idx = s.state.received().first();
        CoordinatorState before = s.state;
        s.event(new Event.GradientReceived("w1", 2, idx)); // redelivery
        s.event(new Event.GradientReceived("w1", 1, 0)); // a step-1 result arriving late
        s.event(new Event.SketchReceived("w1", 0, 0)); // a result of a finished phase
        assertEquals(before, s.state);
      }
    });
    assertEquals(expectedReductions(), sim.reductions);
  }

  @Test
  void newWorkerReceivesTheSpecAndShareOfLaterWork() {
    Sim sim = new Sim();
    sim.join("w1");
    List<Effect> newcomer = new ArrayList<>();
    sim.run((s, i) -> {
      if (s.state.phase() == Phase.TRAINING && s.state.step() == 2 && !s.alive.contains("w2")) {
        int before = s.pending.size();
        s.join("w2");
        newcomer.addAll(new ArrayList<>(s.pending).subList(before, s.pending.size()));
      }
    });
    assertEquals(new Effect.SendSpec("w2"), newcomer.get(0));
    assertEquals(expectedReductions(), sim.reductions);
  }

  @Test
  void failureEndsTheJobAndLaterEventsAreIgnored() {
    Sim sim = new Sim();
    sim.join("w1");
    sim.event(new Event.Failed("loss is NaN at step 3"));
    assertEquals(Phase.FAILED, sim.state.phase());
    assertEquals("loss is NaN at step 3", sim.state.failure());
    CoordinatorState failed = sim.state;
    sim.event(new Event.WorkerJoined("w2"));
    assertEquals(failed, sim.state);
  }

  @Test
  void aPlanWithoutGradientInitGoesStraightToTraining() {
    Sim sim = new Sim(JobPlan.withoutGradientInit(5, 3, 2, 2, 1));
    sim.join("w1");
    List<Effect> first = new ArrayList<>(sim.pending);
    sim.run((s, i) -> {});
    List<String> expected = new ArrayList<>(expectedReductions());
    expected.removeIf(r -> r.startsWith("reduce"));
    assertEquals(expected, sim.reductions);
    assertTrue(first.stream().noneMatch(f -> f instanceof Effect.ComputeShard || f instanceof Effect.RequestSketch));
    assertInstanceOf(Effect.FinishInit.class, first.get(1), "after the spec: the init, then step 1's work");
  }

  @Test
  void aResumedJobContinuesAfterItsCheckpointedStepWithoutRedoingTheInit() {
    Sim sim = new Sim();
    sim.state = CoordinatorState.resume(PLAN, 3);
    sim.join("w1");
    sim.run((s, i) -> {});
    assertEquals(List.of("step 4 from 9 x 3", "step 5 from 12 x 3", "finished DONE"), sim.reductions);

    Sim evaluating = new Sim();
    evaluating.state = CoordinatorState.resume(PLAN, 4); // eval every 2: step 4's evaluation comes first
    evaluating.join("w1");
    assertEquals(Phase.EVALUATION, evaluating.state.phase());
    evaluating.run((s, i) -> {});
    assertEquals(List.of("step 5 from 12 x 3", "finished DONE"), evaluating.reductions);
    assertThrows(IllegalArgumentException.class, () -> CoordinatorState.resume(PLAN, 6));
  }

  @Test
  void planValidationNamesTheKey() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new JobPlan(3, 8, 6, 5, 3, 2, 2, 1));
    assertTrue(e.getMessage().contains("init.shards=3"), e.getMessage());
  }
}
