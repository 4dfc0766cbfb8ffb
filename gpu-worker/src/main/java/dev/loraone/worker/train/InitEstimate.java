package dev.loraone.worker.train;

import dev.loraone.core.init.InitGroups;
import dev.loraone.core.svd.MatrixOperator;
import dev.loraone.core.svd.SvdRequest;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.protocol.wire.SketchSide;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.ejml.data.DMatrixRMaj;

/**
 * The init shard sums one engine holds, one module group at a time ({@code init.memory-budget},
 * {@link InitGroups}): computing a shard of group g drops the sums of any other group, so a worker
 * never holds more than the current group's.
 *
 * <pre>
 *   G_s[m] = sum_{i in shard s, in order} dL_i/dW_m / w_i      m in the pass's modules   [out,in] double
 *   sketch RIGHT: G_s[m] X  X:[in,q] -> [out,q]      LEFT: G_s[m]^T Q  Q:[out,q] -> [in,q]   (F64)
 * </pre>
 * A module's sum takes the same micro-batches in the same order in any pass, and the kept weights'
 * gradients are the same bits whichever other weights take one, so the sums do not depend on the
 * grouping. Each module's gradient is added as it is read ({@link Workload.GradientSink}): the heap
 * holds the group's sums and one module's float gradient, which {@link #requireHeap} checks first.
 */
final class InitEstimate {
  /** One pass of the estimate: group {@code group}'s modules, in model order. */
  record Pass(int group, List<String> modules) {
    Pass {
      modules = List.copyOf(modules);
    }
  }

  private record Shard(int group, int[] microBatches, double lossSum, Map<String, DMatrixRMaj> sums) {}

  /** Bytes of a Java array's header on a 64-bit HotSpot with compressed class pointers. */
  private static final long ARRAY_HEADER = 16;

  private final Map<Integer, Shard> shards = new TreeMap<>();

  /** The groups of a layout's modules under {@code budget} bytes for {@code shardCount} shards. */
  static List<InitGroups.Group> groups(List<EngineLayout.ModuleShape> modules, int shardCount, long budget) {
    List<int[]> shapes = new ArrayList<>();
    for (EngineLayout.ModuleShape m : modules) shapes.add(new int[] {m.out(), m.in()});
    return InitGroups.plan(shapes, shardCount, budget);
  }

  /** The pass of group {@code g}. */
  static Pass pass(List<EngineLayout.ModuleShape> modules, InitGroups.Group g) {
    List<String> names = new ArrayList<>();
    for (int i = g.from(); i < g.to(); i++) names.add(modules.get(i).name());
    return new Pass(g.index(), names);
  }

  /**
   * Refuses, before any gradient is computed, a plan whose largest pass cannot fit in a heap of {@code
   * maxHeap} bytes ({@code Runtime.maxMemory()}): a pass holds its group's float64 sums over every shard
   * (what {@code init.memory-budget} bounds) and one module's float gradient at once on the heap. Only
   * this hard lower bound is checked; the rest of the job needs room beside it.
   */
  static void requireHeap(List<EngineLayout.ModuleShape> modules, List<InitGroups.Group> groups, int shards,
      long maxHeap) {
    for (InitGroups.Group g : groups) {
      requireHeap(modules.subList(g.from(), g.to()), shards, maxHeap,
          groups.size() == 1 ? "the gradient estimate" : "module group " + (g.index() + 1) + " of " + groups.size());
    }
  }

  /** {@link #requireHeap(List, List, int, long)} for one pass of {@code modules}. */
  static void requireHeap(List<EngineLayout.ModuleShape> modules, int shards, long maxHeap, String what) {
    long sums = 0;
    long gradient = 0;
    for (EngineLayout.ModuleShape m : modules) {
      sums += InitGroups.bytes(m.out(), m.in(), shards);
      gradient = Math.max(gradient, 4L * m.out() * m.in());
    }
    long need = sums + gradient + ARRAY_HEADER * ((long) modules.size() * shards + 1);
    if (need > maxHeap) {
      throw new IllegalStateException(what + " holds " + size(sums) + " of float64 init sums (init.memory-budget"
          + " bounds them) and one module's float gradient of " + size(gradient) + " on the heap at once, at"
          + " least " + size(need) + " with the arrays' headers, but this JVM's heap is at most " + size(maxHeap)
          + ": start it with a larger -Xmx (G1 keeps each sum as a large array of whole regions, and the job"
          + " needs room beside them: leave about a fifth more) or set a smaller init.memory-budget");
    }
  }

  private static String size(long bytes) {
    return String.format(Locale.ROOT, "%,d bytes (%.2f GiB)", bytes, bytes / (double) (1L << 30));
  }

  /** The loss sum of shard {@code shard} if it is held for this pass and micro-batches, else null. */
  Double held(Pass pass, int shard, int[] microBatches) {
    Shard s = shards.get(shard);
    return s != null && s.group() == pass.group() && Arrays.equals(s.microBatches(), microBatches)
        ? s.lossSum() : null;
  }

  /** Sums the pass's module gradients of {@code inputs} in order, as shard {@code shard}; drops other groups. */
  double compute(Workload work, Pass pass, int shard, int[] microBatches, List<EngineLayout.ModuleShape> shapes,
      List<Workload.Input> inputs) {
    shards.values().removeIf(s -> s.group() != pass.group());
    List<EngineLayout.ModuleShape> kept = shapes.stream().filter(m -> pass.modules().contains(m.name())).toList();
    if (kept.size() != pass.modules().size()) {
      throw new IllegalArgumentException("init pass of group " + pass.group() + " names modules " + pass.modules()
          + " that are not all adapted here");
    }
    // the sums of this shard and those held of the group's others: a worker may hold only some shards
    requireHeap(kept, shards.size() + 1, Runtime.getRuntime().maxMemory(), "init shard " + shard
        + " of module group " + (pass.group() + 1));
    Map<String, DMatrixRMaj> sums = new LinkedHashMap<>();
    for (EngineLayout.ModuleShape m : kept) sums.put(m.name(), new DMatrixRMaj(m.out(), m.in()));
    double loss = 0;
    for (Workload.Input in : inputs) {
      loss += work.initGradients(in, pass.modules(), (m, v) -> { // one module's gradient at a time
        double[] sum = sums.get(m).data;
        for (int j = 0; j < v.length; j++) sum[j] += v[j]; // GradientShards' arithmetic
      });
    }
    shards.put(shard, new Shard(pass.group(), microBatches.clone(), loss, sums));
    return loss;
  }

  boolean holds(int shard) {
    return shards.containsKey(shard);
  }

  /** The group whose sums are held, or -1. */
  int heldGroup() {
    return shards.isEmpty() ? -1 : shards.values().iterator().next().group();
  }

  void release() {
    shards.clear();
  }

  /** Per module of the pass, its sums of shards {@code 0..count-1} in shard order; throws if one is missing. */
  Map<String, List<DMatrixRMaj>> byModule(Pass pass, int count) {
    Map<String, List<DMatrixRMaj>> out = new LinkedHashMap<>();
    for (String m : pass.modules()) {
      List<DMatrixRMaj> list = new ArrayList<>();
      for (int s = 0; s < count; s++) {
        Shard held = shards.get(s);
        if (held == null || held.group() != pass.group()) {
          throw new IllegalStateException("init shard " + s + " of group " + pass.group()
              + " is not held; compute every shard first");
        }
        list.add(held.sums().get(m));
      }
      out.put(m, list);
    }
    return out;
  }

  /**
   * One shard's product for one randomized-SVD round: exactly
   * {@code SvdRequest.applyTo(MatrixOperator.of(G_s))}, as the single-process init computes it.
   *
   * @param group the group the request is for; -1 for whichever is held
   */
  TensorBlob sketch(int group, int shard, String module, SketchSide side, TensorBlob operand) {
    Shard s = shards.get(shard);
    if (s == null || (group >= 0 && s.group() != group)) {
      throw new IllegalStateException("init shard " + shard + (group >= 0 ? " of group " + group : "")
          + " is not held by this worker; assign it first");
    }
    DMatrixRMaj g = s.sums().get(module);
    if (g == null) {
      throw new IllegalArgumentException("no adapted module '" + module + "' in the held group " + s.group()
          + "; its modules are " + s.sums().keySet());
    }
    if (operand.dtype() != DType.F64) throw new IllegalArgumentException("sketch operand must be F64, got " + operand);
    DMatrixRMaj x = TensorMatrices.matrix(operand);
    int rows = side == SketchSide.RIGHT ? g.numCols : g.numRows;
    if (x.numRows != rows) {
      throw new IllegalArgumentException(side + " operand for " + module + " (" + g.numRows + "x" + g.numCols
          + ") must have " + rows + " rows, got " + operand);
    }
    SvdRequest request = side == SketchSide.RIGHT
        ? new SvdRequest.Right(0, x, g.numRows) : new SvdRequest.Left(0, x, g.numCols);
    return TensorMatrices.f64(request.applyTo(MatrixOperator.of(g)));
  }
}
