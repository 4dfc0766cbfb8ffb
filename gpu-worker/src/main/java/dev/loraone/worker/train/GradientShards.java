package dev.loraone.worker.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The one-step gradient as canonical init shards: shard {@code s} is the in-order double sum of
 * the full gradients of init micro-batches {@code s*per .. (s+1)*per-1}. A worker that owns a shard
 * holds exactly this sum; the single-process fine-tune holds all of them.
 */
final class GradientShards {
  private final int shards;
  private final int perShard;
  private final Map<String, List<DMatrixRMaj>> sums = new LinkedHashMap<>();
  private int added;

  GradientShards(int shards, int microBatches) {
    this.shards = shards;
    this.perShard = microBatches / shards;
  }

  /** Adds init micro-batch {@code index}'s gradients ({@code [out,in]} row-major per module); call in index order. */
  void add(int index, Map<String, float[]> grads, Map<String, int[]> shapes) {
    if (index != added)
      throw new IllegalStateException(
          "init micro-batch " + index + " added out of order (expected " + added + ")");
    int shard = index / perShard;
    for (Map.Entry<String, float[]> e : grads.entrySet()) {
      List<DMatrixRMaj> list = sums.computeIfAbsent(e.getKey(), k -> {
        int[] sh = shapes.get(k);
        List<DMatrixRMaj> l = new ArrayList<>();
        for (int s = 0; s < shards; s++) l.add(new DMatrixRMaj(sh[0], sh[1]));
        return l;
      });
      DMatrixRMaj sum = list.get(shard);
      float[] v = e.getValue();
      for (int i = 0; i < v.length; i++) sum.data[i] += v[i];
    }
    added++;
  }

  int microBatches() {
    return added;
  }

  /** Module -> shard sums in shard order. */
  Map<String, List<DMatrixRMaj>> sums() {
    if (added != shards * perShard)
      throw new IllegalStateException(
          added + " of " + shards * perShard + " init micro-batches added");
    return sums;
  }
}
