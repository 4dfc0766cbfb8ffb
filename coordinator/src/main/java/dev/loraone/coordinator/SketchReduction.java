package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.init.InitGroups;
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
 * shard gradients. With {@code init.memory-budget} the modules run in {@link InitGroups} of the
 * layout, in model order: the rounds above are those of the current group's modules (each keeping
 * its model index {@code i}, so its seed), {@link #nextGroup} finishes the group's A0, B0 and starts
 * the next one's rounds, and {@link #finish} returns every module's in model order.
 */
final class SketchReduction {
  /** What the owners of a module's shards are asked for in the current round. */
  record Request(SketchSide side, TensorBlob operand) {}

  /** The whole layout and its module groups; the current group's are {@link #modules} and {@link #shapes}. */
  private record Plan(List<String> modules, List<int[]> shapes, List<InitGroups.Group> groups) {}

  private final ShardedGradientInit.Settings settings;
  private final Plan plan;
  private final int group;
  private final List<InitResult> done;
  private final List<String> modules;
  private final List<int[]> shapes;
  private final List<RandomizedSvdRounds> rounds;
  private final List<List<DMatrixRMaj>> exactShards;
  private final int round;
  private final Map<Integer, Map<String, DMatrixRMaj>> pending;

  private SketchReduction(
      ShardedGradientInit.Settings settings,
      Plan plan,
      int group,
      List<InitResult> done,
      List<String> modules,
      List<int[]> shapes,
      List<RandomizedSvdRounds> rounds,
      List<List<DMatrixRMaj>> exactShards,
      int round,
      Map<Integer, Map<String, DMatrixRMaj>> pending) {
    this.settings = settings;
    this.plan = plan;
    this.group = group;
    this.done = done;
    this.modules = modules;
    this.shapes = shapes;
    this.rounds = rounds;
    this.exactShards = exactShards;
    this.round = round;
    this.pending = pending;
  }

  /** The rounds of every module in one group (no {@code init.memory-budget}). */
  static SketchReduction start(List<String> modules, List<int[]> shapes, ShardedGradientInit.Settings settings) {
    return start(modules, shapes, settings, List.of(new InitGroups.Group(0, 0, modules.size())));
  }

  /** The rounds of module group 0 of {@code groups} ({@link InitGroups#plan} of {@code shapes}). */
  static SketchReduction start(List<String> modules, List<int[]> shapes, ShardedGradientInit.Settings settings,
      List<InitGroups.Group> groups) {
    return startGroup(settings, new Plan(List.copyOf(modules), List.copyOf(shapes), List.copyOf(groups)), 0,
        List.of());
  }

  private static SketchReduction startGroup(ShardedGradientInit.Settings settings, Plan plan, int group,
      List<InitResult> done) {
    InitGroups.Group g = plan.groups().get(group);
    List<RandomizedSvdRounds> rounds = new ArrayList<>();
    if (settings.randomized()) {
      for (int i = g.from(); i < g.to(); i++)
        rounds.add(ShardedGradientInit.rounds(plan.shapes().get(i)[0], plan.shapes().get(i)[1], i, settings));
    }
    return new SketchReduction(
        settings,
        plan,
        group,
        done,
        plan.modules().subList(g.from(), g.to()),
        plan.shapes().subList(g.from(), g.to()),
        List.copyOf(rounds),
        List.of(),
        0,
        Map.of());
  }

  int group() {
    return group;
  }

  /**
   * Ends the current group, whose rounds are all reduced: its modules' A0 and B0 are kept (the
   * shard products and sums are dropped) and the next group's rounds start.
   */
  SketchReduction nextGroup(double stableGamma, int iters) {
    if (group + 1 >= plan.groups().size()) throw new IllegalStateException("group " + group + " is the last");
    List<InitResult> next = new ArrayList<>(done);
    next.addAll(finishGroup(stableGamma, iters));
    return startGroup(settings, plan, group + 1, List.copyOf(next));
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
    return new SketchReduction(settings, plan, group, done, modules, shapes, rounds, exactShards, round, next);
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
    return new SketchReduction(settings, plan, group, done, modules, shapes, rounds, exactShards, round, next);
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
        plan,
        group,
        done,
        modules,
        shapes,
        List.copyOf(nextRounds),
        List.copyOf(nextExact),
        round + 1,
        Map.of());
  }

  /** A0 and B0 of every module, in module order, once every round of the last group is reduced. */
  List<InitResult> finish(double stableGamma, int iters) {
    if (group + 1 != plan.groups().size()) {
      throw new IllegalStateException("the init finished in module group " + group + " of " + plan.groups().size());
    }
    List<InitResult> out = new ArrayList<>(done);
    out.addAll(finishGroup(stableGamma, iters));
    return out;
  }

  private List<InitResult> finishGroup(double stableGamma, int iters) {
    int first = plan.groups().get(group).from();
    List<InitResult> out = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++) {
      String m = modules.get(i);
      if (settings.randomized()) {
        out.add(LoraOneInit.fromGradientSvd(m, rounds.get(i).result(), stableGamma));
      } else {
        LoraShape shape = new LoraShape(shapes.get(i)[0], shapes.get(i)[1], settings.scaling().r());
        out.add(ShardedGradientInit.init(m, first + i, shape, exactShards.get(i), iters, null, settings));
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
