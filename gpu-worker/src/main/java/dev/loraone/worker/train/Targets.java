package dev.loraone.worker.train;

import dev.loraone.core.init.InitMethod;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.LoraLinear;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** Checks a job's {@code lora.targets} and {@code lora.rank} against a loaded model, naming the key and the module. */
final class Targets {
  private Targets() {}

  /**
   * Rejects target patterns that match no module, and ranks too large for a module (LoRA-GA needs
   * twice the rank: {@link InitMethod#rankFactor()}).
   *
   * @param where where the model's Linear modules sit, for the message (e.g. {@code encoder.layer.N})
   */
  static void check(FinetuneConfig cfg, AdaptedModel model, String where) {
    if (cfg.headOnly()) return;
    List<String> adapted = model.adaptedModules();
    for (String p : model.loraConfig().targets()) {
      if (!p.equals(LoraConfig.ALL_LINEAR) && adapted.stream().noneMatch(m -> m.equals(p) || m.endsWith("." + p))) {
        Set<String> kinds = new TreeSet<>();
        model.namedParameters().keySet().stream().filter(n -> n.endsWith(".weight") && !n.contains("lora_"))
            .map(n -> n.substring(0, n.length() - ".weight".length()).replaceAll("^.*\\.\\d+\\.", ""))
            .forEach(kinds::add);
        throw new IllegalArgumentException("'job.lora.targets': unknown target module '" + p + "' in " + cfg.model()
            + "; its modules are " + kinds + " in every " + where + " (a suffix like q_proj, query or output.dense"
            + " matches them; all-linear takes all)");
      }
    }
    InitMethod method = InitMethod.of(cfg.init());
    for (String m : adapted) {
      LoraLinear lin = model.linear(m);
      int max = Math.min(lin.inFeatures(), lin.outFeatures()) / method.rankFactor();
      if (cfg.rank() > max) {
        throw new IllegalArgumentException("'job.lora.rank' = " + cfg.rank() + " is too large for " + m + " ("
            + lin.outFeatures() + " x " + lin.inFeatures() + "): expected <= " + max
            + (method.rankFactor() > 1 ? " for " + method : ""));
      }
    }
  }
}
