package dev.loraone.worker.model;

import ai.djl.nn.Parameter;
import java.util.Collections;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The LoRA modules of any model, and everything done to them regardless of architecture: which
 * parameters train (LoRA mode, full-gradient mode), the factors by module, merge and unmerge, and the
 * adapter-dropout seed of each training forward. Every model class composes one ({@link BertLoraModel},
 * {@link LlamaLoraModel}) and exposes it through {@link AdaptedModel}, as PEFT's {@code LoraModel} and
 * torchtune's {@code get_adapter_params} serve every architecture.
 *
 * <pre>
 *   LoRA mode            only lora_A, lora_B (and a task head) receive gradients
 *   full-gradient mode   only the adapted modules' base weights W:[out,in] do (LoRA-One's one-step gradient)
 *   merge                W += s B A for every adapter, all-or-nothing;  unmerge: W -= s B A
 *   dropout seed         forward k after setDropoutSeed(seed) uses mix(seed, k)
 * </pre>
 */
public final class AdapterSet {
  private final Map<String, Parameter> named = new LinkedHashMap<>();
  private final Map<String, LoraLinear> linears = new LinkedHashMap<>();
  private long dropoutSeed;
  private long forwardCount;

  /** An empty set; the model registers its parameters and Linear modules while it builds itself. */
  public AdapterSet(long dropoutSeed) {
    this.dropoutSeed = dropoutSeed;
  }

  /** The parameter registry by HF name, for the model to fill in order while it builds itself. */
  Map<String, Parameter> registry() {
    return named;
  }

  /** Registers a Linear module (adapted when its rank is > 0), in layer order. */
  void addLinear(LoraLinear lin) {
    linears.put(lin.module(), lin);
  }

  /** Every parameter by HF/PEFT name, in the model's order. */
  public Map<String, Parameter> namedParameters() {
    return Collections.unmodifiableMap(named);
  }

  /** HF names of the modules that carry an adapter (rank > 0), in layer order. */
  public List<String> adaptedModules() {
    return linears.values().stream().filter(lin -> lin.rank() > 0).map(LoraLinear::module).toList();
  }

  /** HF names of every Linear module, adapted or not, in layer order. */
  public List<String> linearModules() {
    return List.copyOf(linears.keySet());
  }

  /** The Linear layer of an HF module name; throws for an unknown name. */
  public LoraLinear linear(String module) {
    LoraLinear lin = linears.get(module);
    if (lin == null) throw new IllegalArgumentException("no Linear module named " + module);
    return lin;
  }

  /** LoRA mode: only {@code lora_A}, {@code lora_B} and non-base parameters (a task head) receive gradients. */
  public void freezeBase() {
    linears.values().forEach(LoraLinear::endWeightGradient);
    named.forEach((name, p) -> p.freeze(WeightLoading.isBase(name)));
  }

  /** Every parameter receives gradients. */
  public void unfreezeAll() {
    named.values().forEach(p -> p.freeze(false));
  }

  /**
   * Full-gradient mode for LoRA-One's one-step gradient estimate: only the base weights of the
   * adapted modules receive gradients; adapters, biases, embeddings, norms and heads are detached,
   * so backward stores nothing else. Adapters keep their values (zero B at that point).
   */
  public void fullGradientMode() {
    fullGradientMode(adaptedModules());
  }

  /**
   * Full-gradient mode for some adapted modules only (one pass of a memory-bounded estimate): only
   * their base weights receive gradients, so backward neither computes nor stores the others'. The
   * gradient goes to a detached view of each W ({@link LoraLinear#beginWeightGradient}, no copy): a base
   * array shared with other jobs is never marked for autograd. {@link LoraLinear#takeWeightGradient} or
   * {@link #freezeBase()} frees the views and their gradients.
   */
  public void fullGradientMode(Collection<String> modules) {
    Set<LoraLinear> targets = new LinkedHashSet<>();
    for (String m : modules) {
      targets.add(linear(m)); // throws for a name that is not an adapted module
    }
    named.values().forEach(p -> p.freeze(true));
    linears.values().forEach(LoraLinear::endWeightGradient);
    targets.forEach(LoraLinear::beginWeightGradient);
  }

  /** Folds every adapter into its base weight, W += s*B*A; throws before touching any W if one would be non-finite. */
  public void merge() {
    List<String> modules = adaptedModules();
    modules.forEach(m -> linears.get(m).checkMergeable());
    modules.forEach(m -> linears.get(m).merge());
  }

  /** Undoes {@link #merge()}: W -= s*B*A for every adapter. */
  public void unmerge() {
    adaptedModules().forEach(m -> linears.get(m).unmerge());
  }

  /**
   * Seeds the adapter dropout of the following training forwards: the k-th forward after this call
   * uses masks derived from (seed, k, module name). Called per micro-batch with a seed derived from
   * (seed, micro-batch index), dropout does not depend on which worker runs it.
   */
  public void setDropoutSeed(long seed) {
    dropoutSeed = seed;
    forwardCount = 0;
  }

  /** The dropout seed of the next training forward. */
  long nextForwardSeed() {
    return Seeded.mix(dropoutSeed, forwardCount++);
  }
}
