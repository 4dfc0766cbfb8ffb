package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.LoraOneInit;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.svd.RandomizedSvdRounds;
import dev.loraone.core.svd.SvdRequest;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.SketchSide;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The numerics of SvdInit, immutable: per adapted module {@code i} the {@link
 * ShardedGradientInit#rounds} the single-process init runs (same seed, same q), and the products of
 * the current round as shard owners return them.
 *
 * <pre>
 *   randomized   round k: operand X_k (RIGHT: G_s X, LEFT: G_s^T Q) per module; rounds.accept(sum over shards in shard
 *       order)
 *                finish:  A0, B0 = LoraOneInit.fromGradientSvd(module, rounds.result(), gamma)
 *   exact        one RIGHT round with X = I:[in,in], so each owner returns its G_s:[out,in] itself;
 *                finish:  ShardedGradientInit.init(module, i, shards in shard order, iters)   (mean, exact SVD)
 * </pre>
 *
 * Both are exactly what {@code ShardedGradientInit.init} computes in one process, given the same
 * shard gradients.
 */
final class SketchReduction {
  /** What the owners of a module's shards are asked for in the current round. */
  record Request(SketchSide side, TensorBlob operand) {}

  private final ShardedGradientInit.Settings settings;
  private final List<String> modules;
  private final List<int[]> shapes;
  private final List<RandomizedSvdRounds> rounds;
  private final List<List<DMatrixRMaj>> exactShards;
  private final int round;
  private final Map<Integer, Map<String, DMatrixRMaj>> pending;

  private SketchReduction(
      ShardedGradientInit.Settings settings,
      List<String> modules,
      List<int[]> shapes,
      List<RandomizedSvdRounds> rounds,
      List<List<DMatrixRMaj>> exactShards,
      int round,
      Map<Integer, Map<String, DMatrixRMaj>> pending) {
    this.settings = settings;
    this.modules = modules;
    this.shapes = shapes;
    this.rounds = rounds;
    this.exactShards = exactShards;
    this.round = round;
    this.pending = pending;
  }

  static SketchReduction start(List<String> modules, List<int[]> shapes, ShardedGradientInit.Settings settings) {
    List<RandomizedSvdRounds> rounds = new ArrayList<>();
    if (settings.randomized()) {
      for (int i = 0; i < modules.size(); i++)
        rounds.add(ShardedGradientInit.rounds(shapes.get(i)[0], shapes.get(i)[1], i, settings));
    }
    return new SketchReduction(
        settings,
        List.copyOf(modules),
        List.copyOf(shapes),
        List.copyOf(rounds),
        List.of(),
        0,
        Map.of());
  }

  int round() {
    return round;
  }

  List<String> modules() {
    return modules;
  }

  /** The current round's side and operand for module {@code i}. */
  Request request(int i) {
    if (!settings.randomized()) {
      DMatrixRMaj identity = CommonOps_DDRM.identity(shapes.get(i)[1]);
      return new Request(SketchSide.RIGHT, TensorMatrices.f64(identity));
    }
    SvdRequest r = rounds.get(i).request();
    return new Request(
        r instanceof SvdRequest.Right ? SketchSide.RIGHT : SketchSide.LEFT,
        TensorMatrices.f64(r.operand()));
  }

  /**
   * Records one shard's product for one module of round {@code round}; a product of another round
   * is ignored. Throws when the module is unknown or the product has the wrong shape.
   */
  SketchReduction withProduct(int round, int shard, String module, TensorBlob product) {
    if (round != this.round) return this;
    int i = modules.indexOf(module);
    if (i < 0) throw new IllegalArgumentException("sketch for unknown module " + module);
    int rows = productRows(i);
    int cols = settings.randomized() ? rounds.get(i).q() : shapes.get(i)[1];
    long[] s = product.shape();
    if (product.dtype() != DType.F64 && product.dtype() != DType.F32 || s.length != 2 || s[0] != rows || s[1] != cols) {
      throw new IllegalArgumentException(
          "sketch of "
              + module
              + " for round "
              + round
              + ", shard "
              + shard
              + " is "
              + product
              + ", expected F64 (or F32) ["
              + rows
              + ", "
              + cols
              + "]");
    }
    Map<Integer, Map<String, DMatrixRMaj>> next = copy(pending);
    next.computeIfAbsent(shard, k -> new HashMap<>()).put(module, TensorMatrices.matrix(rows, cols, product));
    return new SketchReduction(settings, modules, shapes, rounds, exactShards, round, next);
  }

  private int productRows(int i) {
    if (!settings.randomized()) return shapes.get(i)[0];
    return rounds.get(i).request().productRows();
  }

  /** Whether every module's product of {@code shard} for the current round is in. */
  boolean complete(int shard) {
    Map<String, DMatrixRMaj> p = pending.get(shard);
    return p != null && p.size() == modules.size();
  }

  /** Forgets what an old owner of {@code shard} returned (it is being recomputed). */
  SketchReduction without(int shard) {
    if (!pending.containsKey(shard)) return this;
    Map<Integer, Map<String, DMatrixRMaj>> next = copy(pending);
    next.remove(shard);
    return new SketchReduction(settings, modules, shapes, rounds, exactShards, round, next);
  }

  /**
   * Ends round {@code round}: per module the products of {@code shardOrder}, summed in that order
   * (randomized) or kept in that order (exact). Throws when a summed product is not finite.
   */
  SketchReduction reduce(int round, List<Integer> shardOrder) {
    if (round != this.round)
      throw new IllegalStateException(
          "reducing round " + round + " but round " + this.round + " is open");
    List<RandomizedSvdRounds> nextRounds = new ArrayList<>(rounds);
    List<List<DMatrixRMaj>> nextExact = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++) {
      List<DMatrixRMaj> terms = new ArrayList<>();
      for (int s : shardOrder) {
        if (!complete(s)) throw new IllegalStateException("round " + round + " reduced without shard " + s);
        terms.add(pending.get(s).get(modules.get(i)));
      }
      if (settings.randomized()) {
        try {
          nextRounds.set(i, rounds.get(i).accept(Matrices.sumInOrder(terms)));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("init of " + modules.get(i) + ": " + e.getMessage(), e);
        }
      } else {
        nextExact.add(List.copyOf(terms));
      }
    }
    return new SketchReduction(
        settings,
        modules,
        shapes,
        List.copyOf(nextRounds),
        List.copyOf(nextExact),
        round + 1,
        Map.of());
  }

  /** A0 and B0 of every module, in module order, once every round is reduced. */
  List<InitResult> finish(double stableGamma, int iters) {
    List<InitResult> out = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++) {
      String m = modules.get(i);
      if (settings.randomized()) {
        out.add(LoraOneInit.fromGradientSvd(m, rounds.get(i).result(), stableGamma));
      } else {
        LoraShape shape = new LoraShape(shapes.get(i)[0], shapes.get(i)[1], settings.scaling().r());
        out.add(ShardedGradientInit.init(m, i, shape, exactShards.get(i), iters, null, settings));
      }
    }
    return out;
  }

  private static Map<Integer, Map<String, DMatrixRMaj>> copy(Map<Integer, Map<String, DMatrixRMaj>> m) {
    Map<Integer, Map<String, DMatrixRMaj>> out = new HashMap<>();
    m.forEach((k, v) -> out.put(k, new HashMap<>(v)));
    return out;
  }
}
