package dev.loraone.coordinator.state;

import dev.loraone.protocol.job.Phase;
import java.util.List;

/** What the coordinator actor must do after a transition: send work, reduce, checkpoint. */
public sealed interface Effect {
  /** Send the job spec and the current adapter version to a (new) worker. */
  record SendSpec(String worker) implements Effect {}

  /**
   * Compute and keep the summed full gradient of init shard {@code shard} (its micro-batches in order),
   * of module group {@code group}'s modules only; the worker drops its sums of any other group.
   */
  record ComputeShard(String worker, int group, int shard, int[] microBatches) implements Effect {}

  /** Ask the owner of {@code shard} for its product of SVD round {@code round} of module group {@code group}. */
  record RequestSketch(String worker, int group, int round, int shard) implements Effect {}

  /** All shard products of {@code round} are in: sum them in shard order and advance the SVD. */
  record ReduceSketch(int group, int round, List<Integer> shardOrder) implements Effect {}

  /**
   * Every round of module group {@code group} is reduced and another group follows: compute the
   * group's A0, B0 and start the next group's rounds (its workers drop the group's sums on their
   * next shard).
   */
  record FinishGroup(int group) implements Effect {}

  /** The SVD is done: compute A0, B0, checkpoint the init result and broadcast adapter version 0. */
  record FinishInit() implements Effect {}

  record ComputeGradient(String worker, int step, long index) implements Effect {}

  /** All K gradients of {@code step} are in: sum in index order, optimizer step, broadcast, checkpoint. */
  record ApplyStep(int step, long firstIndex, int count) implements Effect {}

  record Evaluate(String worker, int afterStep, int batch) implements Effect {}

  record Export(String worker) implements Effect {}

  record Finished(Phase phase, String reason) implements Effect {}
}
