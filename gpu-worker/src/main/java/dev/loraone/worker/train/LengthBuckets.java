package dev.loraone.worker.train;

import dev.loraone.data.MicroBatchPlan;
import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntUnaryOperator;

/**
 * Length-bucketed micro-batches ({@code train.bucket-by-length}): a step's examples regrouped by
 * token length, so that short rows are not padded to the length of long ones.
 *
 * <pre>
 *   step group   micro-batches [tK, tK+K) of the plan (K = micro-batches per step), sizes n_0 .. n_{K-1}
 *   order        the group's examples by (token length, position in the plan), ascending
 *   micro-batch  tK + j holds order[n_0 + .. + n_{j-1}, + n_j)
 * </pre>
 * A step sums the same examples as without bucketing (its loss and gradient are the same sums, in
 * another grouping), and any worker computes the same grouping from the plan and the lengths alone.
 * Lengths are computed once per example, on whichever thread asks first; thread-safe.
 */
final class LengthBuckets {
  private final MicroBatchPlan plan;
  private final int perStep;
  private final IntUnaryOperator tokens;
  private final AtomicIntegerArray lengths;

  /**
   * @param plan the micro-batch plan
   * @param perStep micro-batches per step (K)
   * @param tokens the token length of a training example ({@link Workload#trainLength})
   */
  LengthBuckets(MicroBatchPlan plan, int perStep, IntUnaryOperator tokens) {
    this.plan = plan;
    this.perStep = perStep;
    this.tokens = tokens;
    this.lengths = new AtomicIntegerArray(plan.datasetSize());
  }

  /** The example indices of global micro-batch {@code microBatch}, bucketed within its step. */
  int[] microBatch(long microBatch) {
    long first = microBatch / perStep * perStep;
    int[][] parts = new int[perStep][];
    int total = 0;
    for (int j = 0; j < perStep; j++) {
      parts[j] = plan.microBatch(first + j);
      total += parts[j].length;
    }
    Integer[] order = new Integer[total];
    int[] examples = new int[total];
    int[] length = new int[total];
    for (int j = 0, at = 0; j < perStep; j++) {
      for (int e : parts[j]) {
        order[at] = at;
        examples[at] = e;
        length[at++] = length(e);
      }
    }
    Arrays.sort(order, Comparator.<Integer>comparingInt(i -> length[i]).thenComparingInt(i -> i));
    int which = (int) (microBatch - first);
    int from = 0;
    for (int j = 0; j < which; j++) from += parts[j].length;
    int[] out = new int[parts[which].length];
    for (int i = 0; i < out.length; i++) out[i] = examples[order[from + i]];
    return out;
  }

  private int length(int e) {
    int n = lengths.get(e);
    if (n == 0) {
      n = Math.max(1, tokens.applyAsInt(e));
      lengths.set(e, n);
    }
    return n;
  }
}
