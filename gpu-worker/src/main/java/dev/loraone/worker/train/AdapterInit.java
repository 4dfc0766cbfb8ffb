package dev.loraone.worker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.loraone.core.init.InitMethod;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.LoraLinear;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
          ? AdapterState.matrix(lin.outFeatures(), lin.inFeatures(), lin.weight().getArray().toFloatArray()) : null;
      InitResult r = ShardedGradientInit.init(m, i, new LoraShape(lin.outFeatures(), lin.inFeatures(), cfg.rank()),
          shardSums == null ? null : shardSums.get(m), iters, w0, settings);
      model.setLoraA(m, AdapterState.floats(r.a()));
      model.setLoraB(m, AdapterState.floats(r.b()));
      initPairs.put(m, new LoraPair(r.a(), r.b()));
      if (r.modifiesBase()) {
        modified = true;
        NDArray w = lin.weight().getArray();
        try (NDManager tmp = w.getManager().newSubManager()) {
          w.subi(tmp.create(AdapterState.floats(r.offsetOrZero()), w.getShape()));
        }
      }
    }
    return modified ? initPairs : null;
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
