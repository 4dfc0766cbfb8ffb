package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.loraone.core.init.InitGroups;
import dev.loraone.core.linalg.BufferMatrix;
import dev.loraone.core.svd.SvdRequest;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.worker.runtime.NativeHeap;
import dev.loraone.worker.runtime.RuntimeInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
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
 * grouping.
 *
 * <p>The sums are float64 arrays in native memory, not on the Java heap ({@link #allocate}): each
 * module's float32 gradient is read where it was computed, without a copy ({@link
 * Workload.GradientSink#accept(String, NDArray)}), and added in Java, the bits of {@code sum[j] += v[j]};
 * the products read the sums through {@link BufferMatrix} views with the bits of the heap products. So
 * the heap a job needs does not grow with {@code init.memory-budget}, and the collector never has to
 * place a sum of hundreds of megabytes in one piece. What the sums need at once is checked against the
 * machine's memory first ({@link #requireMemory}). After a shard's gradient passes and after a group's
 * sums are released, the C allocator's free memory is trimmed ({@link NativeHeap}) when the sums are
 * large ({@link #TRIM_ABOVE}). Freed sums are not Java arrays: the methods that free or read them are
 * synchronized, so a sketch never reads a group being dropped.
 */
final class InitEstimate {
  /** One pass of the estimate: group {@code group}'s modules, in model order. */
  record Pass(int group, List<String> modules) {
    Pass {
      modules = List.copyOf(modules);
    }
  }

  /** One shard's sums: native float64 arrays in {@code arrays}' manager, and views of them. */
  private record Shard(int group, int[] microBatches, double lossSum, NDManager arrays, Map<String, BufferMatrix> sums)
      implements AutoCloseable {
    long bytes() {
      return sums.values().stream().mapToLong(m -> (long) Double.BYTES * m.rows() * m.cols()).sum();
    }

    @Override public void close() {
      arrays.close();
    }
  }

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
   * Refuses, before any gradient is computed, a plan whose largest pass cannot fit in {@code memory}
   * bytes (the machine's, or its container's): a pass holds its group's float64 sums over every shard
   * (what {@code init.memory-budget} bounds) and one module's float gradient at once, in native memory.
   * Only this hard lower bound is checked; the model and the rest of the job need room beside it.
   */
  static void requireMemory(List<EngineLayout.ModuleShape> modules, List<InitGroups.Group> groups, int shards,
      long memory) {
    for (InitGroups.Group g : groups) {
      requireMemory(modules.subList(g.from(), g.to()), shards, memory,
          groups.size() == 1 ? "the gradient estimate" : "module group " + (g.index() + 1) + " of " + groups.size());
    }
  }

  /** {@link #requireMemory(List, List, int, long)} for one pass of {@code modules}. */
  static void requireMemory(List<EngineLayout.ModuleShape> modules, int shards, long memory, String what) {
    long sums = 0;
    long gradient = 0;
    for (EngineLayout.ModuleShape m : modules) {
      sums += InitGroups.bytes(m.out(), m.in(), shards);
      gradient = Math.max(gradient, 4L * m.out() * m.in());
    }
    long need = sums + gradient;
    if (memory > 0 && need > memory) { // 0: not known here
      throw new IllegalStateException(what + " holds " + size(sums) + " of float64 init sums (init.memory-budget"
          + " bounds them) and one module's float gradient of " + size(gradient) + " in native memory at once, "
          + size(need) + ", but this machine has " + size(memory) + " of memory: set a smaller init.memory-budget"
          + " (the sums are then computed in more passes over the init batch, with the same bits)");
    }
  }

  private static String size(long bytes) {
    return String.format(Locale.ROOT, "%,d bytes (%.2f GiB)", bytes, bytes / (double) (1L << 30));
  }

  /** The loss sum of shard {@code shard} if it is held for this pass and micro-batches, else null. */
  synchronized Double held(Pass pass, int shard, int[] microBatches) {
    Shard s = shards.get(shard);
    return s != null && s.group() == pass.group() && Arrays.equals(s.microBatches(), microBatches)
        ? s.lossSum() : null;
  }

  /** Sums the pass's module gradients of {@code inputs} in order, as shard {@code shard}; drops other groups. */
  synchronized double compute(Workload work, Pass pass, int shard, int[] microBatches,
      List<EngineLayout.ModuleShape> shapes, List<Workload.Input> inputs) {
    drop(s -> s.group() != pass.group());
    List<EngineLayout.ModuleShape> kept = shapes.stream().filter(m -> pass.modules().contains(m.name())).toList();
    if (kept.size() != pass.modules().size()) {
      throw new IllegalArgumentException("init pass of group " + pass.group() + " names modules " + pass.modules()
          + " that are not all adapted here");
    }
    // the sums of this shard and those held of the group's others: a worker may hold only some shards
    requireMemory(kept, shards.size() + 1, RuntimeInfo.physicalMemory(), "init shard " + shard + " of module group "
        + (pass.group() + 1));
    NDManager arrays = NDManager.newBaseManager(Device.cpu(), "PyTorch");
    try {
      Map<String, BufferMatrix> sums = allocate(arrays, kept, SLAB);
      Workload.GradientSink sink = new Workload.GradientSink() {
        @Override public void accept(String module, float[] gradient) {
          throw new IllegalStateException("the init sums take " + module + "'s gradient as a native array");
        }

        @Override public void accept(String module, NDArray gradient) { // one module's gradient at a time
          try (NDManager scope = gradient.getManager().newSubManager()) {
            gradient.tempAttach(scope); // a host or contiguous copy made to read it is freed with the scope
            add(sums.get(module).data(), gradient.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer());
          }
        }
      };
      double loss = 0;
      for (Workload.Input in : inputs) loss += work.initGradients(in, pass.modules(), sink);
      Shard computed = new Shard(pass.group(), microBatches.clone(), loss, arrays, sums);
      if (computed.bytes() >= TRIM_ABOVE) NativeHeap.trim(); // what the backward passes freed, before the SVD
      Shard replaced = shards.put(shard, computed);
      if (replaced != null) replaced.close(); // the same shard of other micro-batches
      return loss;
    } catch (RuntimeException | Error e) {
      arrays.close();
      throw e;
    }
  }

  /** The most float64 entries one native array of sums holds (1 GiB; a direct buffer's limit is 2 GiB). */
  static final int SLAB = 1 << 27;

  /**
   * Zeroed float64 sums {@code [out,in]} of {@code modules}, packed in model order into native arrays of
   * at most {@code slab} entries ({@link #SLAB}; a larger module gets one of its own). Large arrays are
   * mapped and unmapped whole by the C allocator, so the sums of one group never fragment its heap and
   * are given back to the system when the group is dropped.
   */
  static Map<String, BufferMatrix> allocate(NDManager arrays, List<EngineLayout.ModuleShape> modules, int slab) {
    Map<String, BufferMatrix> sums = new LinkedHashMap<>();
    int from = 0;
    while (from < modules.size()) {
      long entries = 0;
      int to = from;
      for (; to < modules.size(); to++) {
        long n = (long) modules.get(to).out() * modules.get(to).in();
        if (n > Integer.MAX_VALUE / Double.BYTES) {
          throw new IllegalArgumentException("module " + modules.get(to).name() + " has " + n + " weights; the"
              + " LoRA-One init sums at most " + Integer.MAX_VALUE / Double.BYTES + " per module");
        }
        if (to > from && entries + n > slab) break;
        entries += n;
      }
      NDArray array = arrays.zeros(new Shape(entries), DataType.FLOAT64);
      ByteBuffer bytes = array.toByteBuffer(true); // the array's own memory, not a copy
      int at = 0;
      for (EngineLayout.ModuleShape m : modules.subList(from, to)) {
        int n = m.out() * m.in();
        DoubleBuffer data = bytes.slice(at * Double.BYTES, n * Double.BYTES).order(ByteOrder.nativeOrder())
            .asDoubleBuffer();
        sums.put(m.name(), new BufferMatrix(m.out(), m.in(), data));
        at += n;
      }
      from = to;
    }
    return sums;
  }

  /** {@code sum[j] += gradient[j]} in float64, as {@code GradientShards} adds a gradient. */
  static void add(DoubleBuffer sum, FloatBuffer gradient) {
    int n = sum.limit();
    if (gradient.limit() != n) {
      throw new IllegalArgumentException("a gradient of " + gradient.limit() + " entries for a sum of " + n);
    }
    for (int j = 0; j < n; j++) sum.put(j, sum.get(j) + gradient.get(j));
  }

  synchronized boolean holds(int shard) {
    return shards.containsKey(shard);
  }

  /** The group whose sums are held, or -1. */
  synchronized int heldGroup() {
    return shards.isEmpty() ? -1 : shards.values().iterator().next().group();
  }

  synchronized void release() {
    long bytes = shards.values().stream().mapToLong(Shard::bytes).sum();
    drop(s -> true);
    if (bytes >= TRIM_ABOVE) NativeHeap.trim();
  }

  /**
   * The float64 sums at or above which the native heap is trimmed after a shard's passes and after a
   * group: a trim costs a walk of malloc's arenas and the pages it returns fault in again, worth it
   * where gigabytes are at stake (a 1B model), not for the many small groups of a small model.
   */
  static final long TRIM_ABOVE = 256L << 20;

  /** Drops the shards {@code which} takes and frees their sums. */
  private void drop(Predicate<Shard> which) {
    shards.values().removeIf(s -> {
      if (!which.test(s)) return false;
      s.close();
      return true;
    });
  }

  /** Per module of the pass, its sums of shards {@code 0..count-1} in shard order; throws if one is missing. */
  synchronized Map<String, List<BufferMatrix>> byModule(Pass pass, int count) {
    Map<String, List<BufferMatrix>> out = new LinkedHashMap<>();
    for (String m : pass.modules()) {
      List<BufferMatrix> list = new ArrayList<>();
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
   * the bits of {@code SvdRequest.applyTo(MatrixOperator.of(G_s))}, as the single-process init computes
   * it.
   *
   * @param group the group the request is for; -1 for whichever is held
   */
  synchronized TensorBlob sketch(int group, int shard, String module, SketchSide side, TensorBlob operand) {
    Shard s = shards.get(shard);
    if (s == null || (group >= 0 && s.group() != group)) {
      throw new IllegalStateException("init shard " + shard + (group >= 0 ? " of group " + group : "")
          + " is not held by this worker; assign it first");
    }
    BufferMatrix g = s.sums().get(module);
    if (g == null) {
      throw new IllegalArgumentException("no adapted module '" + module + "' in the held group " + s.group()
          + "; its modules are " + s.sums().keySet());
    }
    if (operand.dtype() != DType.F64) throw new IllegalArgumentException("sketch operand must be F64, got " + operand);
    DMatrixRMaj x = TensorMatrices.matrix(operand);
    int rows = side == SketchSide.RIGHT ? g.cols() : g.rows();
    if (x.numRows != rows) {
      throw new IllegalArgumentException(side + " operand for " + module + " (" + g.rows() + "x" + g.cols()
          + ") must have " + rows + " rows, got " + operand);
    }
    SvdRequest request = side == SketchSide.RIGHT
        ? new SvdRequest.Right(0, x, g.rows()) : new SvdRequest.Left(0, x, g.cols());
    return TensorMatrices.f64(request.applyTo(g.operator()));
  }
}
