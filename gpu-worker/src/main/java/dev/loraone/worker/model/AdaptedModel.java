package dev.loraone.worker.model;

import ai.djl.nn.Parameter;
import java.util.List;
import java.util.Map;

/**
 * What training, export and adapter I/O need from a model with LoRA adapters, whatever its
 * architecture ({@link BertLoraModel}, {@link LlamaLoraModel}): the adapted modules by HF name and
 * their factors {@code A:[r,in]}, {@code B:[out,r]} as row-major float arrays.
 */
public interface AdaptedModel {

  /** HF names of the modules that carry an adapter (rank > 0), in layer order. */
  List<String> adaptedModules();

  /** The Linear layer of an HF module name; throws for an unknown name. */
  LoraLinear linear(String module);

  /** Every parameter by HF/PEFT name. */
  Map<String, Parameter> namedParameters();

  LoraConfig loraConfig();

  float[] getLoraA(String module);

  float[] getLoraB(String module);

  void setLoraA(String module, float[] values);

  void setLoraB(String module, float[] values);
}
