package dev.loraone.worker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.loraone.core.init.InitContext;
import dev.loraone.core.init.InitParams;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.LoraInitializer;
import dev.loraone.core.init.LoraInitializers;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.LoraLinear;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The init phase of a fine-tune on any {@link AdaptedModel}: one {@code lora-core} initializer call
 * per adapted module, in module order, with the one-step gradient where the method needs it.
 *
 * <pre>
 *   A0, B0 (, offset) = init(W0, G)       per module; seed of module i = DropoutSeeds.of(seed, 1e6 + i)
 *   W0 <- W0 - offset                      only for W0-modifying inits (PiSSA, LoRA-GA)
 * </pre>
 *
 * The same per-module rule as {@link Finetuner}'s, so a BERT and a Llama run of one config seed
 * their modules alike.
 */
final class AdapterInit {
  private AdapterInit() {}

  /**
   * Initialises every adapter of {@code model} in place.
   *
   * @param grads averaged {@code dL/dW:[out,in]} per module, or null when the method needs none
   * @return the init factors when the method modified W0 (a plain-LoRA export needs them), else null
   */
  static Map<String, LoraPair> apply(AdaptedModel model, Map<String, DMatrixRMaj> grads, FinetuneConfig cfg) {
    LoraInitializer init = LoraInitializers.forName(cfg.init());
    InitParams params = Double.isNaN(cfg.gamma()) ? InitParams.defaults() : InitParams.defaults().withGamma(cfg.gamma());
    LoraScaling scaling = new LoraScaling(cfg.alpha(), cfg.rank(), cfg.rslora());
    boolean needsW = cfg.init().equals("pissa") || cfg.init().equals("lora-ga");
    Map<String, LoraPair> initPairs = new LinkedHashMap<>();
    boolean modified = false;
    List<String> modules = model.adaptedModules();
    for (int i = 0; i < modules.size(); i++) {
      String m = modules.get(i);
      LoraLinear lin = model.linear(m);
      DMatrixRMaj w0 = needsW
          ? AdapterState.matrix(lin.outFeatures(), lin.inFeatures(), lin.weight().getArray().toFloatArray()) : null;
      InitContext ctx = new InitContext(m, new LoraShape(lin.outFeatures(), lin.inFeatures(), cfg.rank()), w0,
          grads == null ? null : grads.get(m), scaling, DropoutSeeds.of(cfg.seed(), 1_000_000L + i), params);
      InitResult r = init.init(ctx);
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
}
