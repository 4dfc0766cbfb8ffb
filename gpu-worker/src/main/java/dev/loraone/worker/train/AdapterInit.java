package dev.loraone.worker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.loraone.core.init.InitMethod;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.linalg.BufferMatrix;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.core.linalg.Matrices;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;

/**
 * The init phase of a fine-tune on any {@link AdaptedModel}: one {@link ShardedGradientInit} call
 * per adapted module, in module order, then the factors (and, for W0-modifying inits, the offset)
 * go into the model.
 *
 * <pre>
 *   A0, B0 (, offset) = ShardedGradientInit.init(module i, shard gradients, W0)
 *   W0 <- W0 - offset                      only for W0-modifying inits (PiSSA, LoRA-GA)
 * </pre>
 */
final class AdapterInit {
  private AdapterInit() {}

  /**
   * Initialises every adapter of {@code model} in place.
   *
   * @param shardSums per module, its init-shard gradient sums in shard order; null when the method
   *     needs none
   * @param iters the number of init micro-batches in the shards
   * @return the init factors when the method modified W0 (a plain-LoRA export needs them), else
   *     null
   */
  static Map<String, LoraPair> apply(
      AdaptedModel model, Map<String, List<DMatrixRMaj>> shardSums, int iters, FinetuneConfig cfg) {
    ShardedGradientInit.Settings settings = cfg.initSettings();
    boolean needsW = InitMethod.of(cfg.init()).needsBaseWeight();
    Map<String, LoraPair> initPairs = new LinkedHashMap<>();
    boolean modified = false;
    List<String> modules = model.adaptedModules();
    for (int i = 0; i < modules.size(); i++) {
      String m = modules.get(i);
      LoraLinear lin = model.linear(m);
      DMatrixRMaj w0 = needsW
          ? AdapterState.matrix(lin.outFeatures(), lin.inFeatures(), lin.weightArray().toFloatArray()) : null;
      InitResult r = ShardedGradientInit.init(m, i, new LoraShape(lin.outFeatures(), lin.inFeatures(), cfg.rank()),
          shardSums == null ? null : shardSums.get(m), iters, w0, settings);
      model.setLoraA(m, AdapterState.floats(r.a()));
      model.setLoraB(m, AdapterState.floats(r.b()));
      initPairs.put(m, new LoraPair(r.a(), r.b()));
      if (r.modifiesBase()) {
        modified = true;
        NDArray w = lin.ownWeight(); // a shared base W is copied first, never written
        try (NDManager tmp = w.getManager().newSubManager()) {
          w.subi(tmp.create(AdapterState.floats(r.offsetOrZero()), w.getShape()));
        }
      }
    }
    return modified ? initPairs : null;
  }

  /**
   * The factors of a gradient init, computed one module group at a time ({@code init.memory-budget})
   * and written into the model only when every group is done: a written B0 or a moved W0 would change
   * the forward, and so the gradient, of the groups still to come. Holds A0 and B0 only; a W0 offset is
   * recomputed as {@code s * B0 * A0} when written, checked bitwise against the init's own when computed.
   */
  static final class Pending {
    private final Map<String, LoraPair> pairs = new LinkedHashMap<>();
    private final Set<String> offsets = new HashSet<>();

    int size() {
      return pairs.size();
    }
  }

  /**
   * The init of adapted modules {@code [from, to)} (model order, so each keeps its module index and
   * seed) from their shard sums, into {@code pending}.
   */
  static void computeGroup(AdaptedModel model, int from, int to, Map<String, List<BufferMatrix>> shardSums, int iters,
      FinetuneConfig cfg, Pending pending) {
    ShardedGradientInit.Settings settings = cfg.initSettings();
    boolean needsW = InitMethod.of(cfg.init()).needsBaseWeight();
    List<String> modules = model.adaptedModules();
    for (int i = from; i < to; i++) {
      String m = modules.get(i);
      LoraLinear lin = model.linear(m);
      DMatrixRMaj w0 = needsW
          ? AdapterState.matrix(lin.outFeatures(), lin.inFeatures(), lin.weightArray().toFloatArray()) : null;
      InitResult r = ShardedGradientInit.initOf(m, i, new LoraShape(lin.outFeatures(), lin.inFeatures(), cfg.rank()),
          shardSums.get(m), iters, w0, settings);
      pending.pairs.put(m, new LoraPair(r.a(), r.b()));
      if (r.modifiesBase()) {
        if (!Arrays.equals(offset(r.a(), r.b(), settings).data, r.offsetOrZero().data)) {
          throw new IllegalStateException(cfg.init() + "'s W0 offset of " + m + " is not s*B0*A0: it cannot wait"
              + " for the other module groups (init.memory-budget)");
        }
        pending.offsets.add(m);
      }
    }
  }

  /**
   * Writes the pending factors (and W0 offsets) into the model, as {@link #apply} writes them.
   *
   * @return the init factors when the method modified W0, else null
   */
  static Map<String, LoraPair> write(AdaptedModel model, Pending pending, FinetuneConfig cfg) {
    ShardedGradientInit.Settings settings = cfg.initSettings();
    pending.pairs.forEach((m, p) -> {
      model.setLoraA(m, AdapterState.floats(p.a()));
      model.setLoraB(m, AdapterState.floats(p.b()));
      if (pending.offsets.contains(m)) {
        NDArray w = model.linear(m).ownWeight(); // a shared base W is copied first, never written
        try (NDManager tmp = w.getManager().newSubManager()) {
          w.subi(tmp.create(AdapterState.floats(offset(p.a(), p.b(), settings)), w.getShape()));
        }
      }
    });
    return pending.offsets.isEmpty() ? null : new LinkedHashMap<>(pending.pairs);
  }

  /** {@code s * B0 * A0}, as LoRA-GA computes its offset. */
  private static DMatrixRMaj offset(DMatrixRMaj a, DMatrixRMaj b, ShardedGradientInit.Settings settings) {
    return Matrices.scaled(settings.scaling().factor(), Matrices.mult(b, a));
  }

  /** {@code [out, in]} of every adapted module, for {@link GradientShards}. */
  static Map<String, int[]> shapes(AdaptedModel model) {
    Map<String, int[]> out = new LinkedHashMap<>();
    for (String m : model.adaptedModules()) {
      LoraLinear lin = model.linear(m);
      out.put(m, new int[] {lin.outFeatures(), lin.inFeatures()});
    }
    return out;
  }
}
