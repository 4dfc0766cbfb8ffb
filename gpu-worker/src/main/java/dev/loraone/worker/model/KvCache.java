package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * The keys and values of every past position, per layer, for incremental decoding: with them a
 * step feeds only its new tokens and still attends to the whole prefix.
 *
 * <pre>
 *   keys[layer], values[layer]: [B, kvHeads, T, d]   (after RoPE; before the GQA grouping)
 * </pre>
 *
 * The arrays live on the manager given at construction (one generation), so per-step managers
 * can close; each append replaces and frees the previous arrays.
 */
final class KvCache {

  private final NDManager manager;
  private final NDArray[] keys;
  private final NDArray[] values;

  KvCache(NDManager manager, int layers) {
    this.manager = manager;
    keys = new NDArray[layers];
    values = new NDArray[layers];
  }

  /** Positions cached so far (T); read it before a forward, as layers append during it. */
  int length() {
    return keys[0] == null ? 0 : Math.toIntExact(keys[0].getShape().get(2));
  }

  /** Appends a layer's new {@code k, v:[B,kvHeads,L,d]} and returns the full {@code [B,kvHeads,T+L,d]} pair. */
  NDList append(int layer, NDArray k, NDArray v) {
    keys[layer] = extend(keys[layer], k);
    values[layer] = extend(values[layer], v);
    return new NDList(keys[layer], values[layer]);
  }

  private NDArray extend(NDArray past, NDArray now) {
    NDArray all = past == null ? now : past.concat(now, 2);
    all.attach(manager);
    if (past != null) {
      past.close();
    }
    return all;
  }
}
