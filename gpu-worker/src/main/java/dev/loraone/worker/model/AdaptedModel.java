package dev.loraone.worker.model;

import ai.djl.nn.Parameter;
import java.util.List;
import java.util.Map;

/**
 * What training, export and adapter I/O need from a model with LoRA adapters, whatever its
 * architecture ({@link BertLoraModel}, {@link LlamaLoraModel}): its {@link AdapterSet}, through which
 * the adapted modules by HF name and their factors {@code A:[r,in]}, {@code B:[out,r]} are read and
 * written as row-major float arrays.
 */
public interface AdaptedModel {

  /** The model's LoRA modules and parameter registry. */
  AdapterSet adapters();

  LoraConfig loraConfig();

  /** HF names of the modules that carry an adapter (rank > 0), in layer order. */
  default List<String> adaptedModules() {
    return adapters().adaptedModules();
  }

  /** The Linear layer of an HF module name; throws for an unknown name. */
  default LoraLinear linear(String module) {
    return adapters().linear(module);
  }

  /** Every parameter by HF/PEFT name. */
  default Map<String, Parameter> namedParameters() {
    return adapters().namedParameters();
  }

  default float[] getLoraA(String module) {
    return linear(module).getLoraA();
  }

  default float[] getLoraB(String module) {
    return linear(module).getLoraB();
  }

  default void setLoraA(String module, float[] values) {
    linear(module).setLoraA(values);
  }

  default void setLoraB(String module, float[] values) {
    linear(module).setLoraB(values);
  }

  /** LoRA mode ({@link AdapterSet#freezeBase}). */
  default void freezeBase() {
    adapters().freezeBase();
  }

  /** Every parameter receives gradients. */
  default void unfreezeAll() {
    adapters().unfreezeAll();
  }

  /** Full-gradient mode ({@link AdapterSet#fullGradientMode}). */
  default void fullGradientMode() {
    adapters().fullGradientMode();
  }

  /** Full-gradient mode for {@code modules} only ({@link AdapterSet#fullGradientMode(java.util.Collection)}). */
  default void fullGradientMode(java.util.Collection<String> modules) {
    adapters().fullGradientMode(modules);
  }

  /** Seeds the adapter dropout of the following training forwards ({@link AdapterSet#setDropoutSeed}). */
  default void setDropoutSeed(long seed) {
    adapters().setDropoutSeed(seed);
  }

  /** W += s*B*A for every adapter, all-or-nothing. */
  default void mergeAdapters() {
    adapters().merge();
  }

  /** Undoes {@link #mergeAdapters()}. */
  default void unmergeAdapters() {
    adapters().unmerge();
  }
}
