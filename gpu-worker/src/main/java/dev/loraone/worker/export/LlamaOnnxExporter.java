package dev.loraone.worker.export;

import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Writes a trained {@link LlamaLoraModel} as a standalone ONNX causal LM with every LoRA adapter
 * merged into its base weight ({@code W' = W0 + s*B*A}): what serving needs, without DJL or
 * adapters.
 *
 * <pre>
 *   inputs   input_ids, position_ids              int64 [batch, sequence]
 *            attention_mask                       int64 [batch, total_sequence]   (past + sequence)
 *            past_key_values.{i}.key, .value      float [batch, kv_heads, past_sequence, head_dim]
 *   outputs  logits                               float [batch, sequence, vocab]
 *            present.{i}.key, .value              float [batch, kv_heads, total_sequence, head_dim]
 * </pre>
 *
 * The KV-cache layout of HF optimum's and onnxruntime-genai's Llama decoders, one graph for prefill
 * and decode: the first call passes empty past tensors (past_sequence 0), each later one the
 * previous call's presents ({@link OnnxCausalLm} decodes so). Opset 17, IR version 8, standard ops
 * only ({@link LlamaOnnxGraph} lists them). Files as {@link BertOnnxExporter}: weights past about
 * 1.8 GB go to {@code <file>.data} ({@link ExternalDataFile}), the model file is written through a
 * temporary file and a rename, and the model itself is only read.
 *
 * <p>Metadata: {@code model_type} ({@code llama}, {@code mistral}, {@code qwen2}), the architecture
 * sizes, {@code rope_scaling}, {@code bos_token_id}, {@code eos_token_id} (comma-separated) and the
 * merged LoRA settings.
 */
public final class LlamaOnnxExporter {

  static final String GRAPH_NAME = "llama_lora_merged";

  private final long externalDataThreshold;

  /** An exporter that keeps weights inside the {@code .onnx} file up to about 1.8 GB. */
  public LlamaOnnxExporter() {
    this(BertOnnxExporter.DEFAULT_EXTERNAL_DATA_THRESHOLD);
  }

  /** @param externalDataThreshold weight bytes above which weights go to a side file (tests force it low) */
  LlamaOnnxExporter(long externalDataThreshold) {
    if (externalDataThreshold < 0) {
      throw new IllegalArgumentException("externalDataThreshold must be >= 0, got " + externalDataThreshold);
    }
    this.externalDataThreshold = externalDataThreshold;
  }

  /** Exports {@code model} to {@code onnxFile}, replacing it and any external-data file of an earlier export there. */
  public OnnxExport export(LlamaLoraModel model, Path onnxFile) throws IOException {
    return OnnxFileWriter.write(onnxFile, GRAPH_NAME, weightBytes(model), externalDataThreshold, g -> {
      LlamaOnnxGraph.build(g, model);
      return g.model(OnnxFileWriter.IR_VERSION, OnnxFileWriter.OPSET, OnnxFileWriter.PRODUCER,
          OnnxFileWriter.producerVersion(), docString(model), metadata(model));
    });
  }

  /** Float32 bytes of the exported weights: every parameter but the adapters, plus the two rotary tables. */
  static long weightBytes(LlamaLoraModel model) {
    return 2L * model.config().maxPositions() * model.config().headDim() * Float.BYTES
        + OnnxFileWriter.weightBytes(model.namedParameters());
  }


  private static Map<String, String> metadata(LlamaLoraModel model) {
    LlamaConfig c = model.config();
    LoraConfig lora = model.loraConfig();
    Map<String, String> m = new LinkedHashMap<>();
    m.put("model_type", c.modelType());
    m.put("vocab_size", Integer.toString(c.vocabSize()));
    m.put("hidden_size", Integer.toString(c.hiddenSize()));
    m.put("num_hidden_layers", Integer.toString(c.numLayers()));
    m.put("num_attention_heads", Integer.toString(c.numHeads()));
    m.put("num_key_value_heads", Integer.toString(c.numKvHeads()));
    m.put("max_position_embeddings", Integer.toString(c.maxPositions()));
    m.put("rms_norm_eps", Double.toString(c.rmsNormEps()));
    m.put("rope_theta", Double.toString(c.ropeTheta()));
    m.put("rope_scaling", c.ropeScaling().describe());
    m.put("tie_word_embeddings", Boolean.toString(c.tieWordEmbeddings()));
    c.bosTokenId().ifPresent(id -> m.put("bos_token_id", Long.toString(id)));
    if (!c.eosTokenIds().isEmpty()) {
      m.put("eos_token_id", c.eosTokenIds().stream().map(String::valueOf).collect(Collectors.joining(",")));
    }
    m.put("lora_merged", "rank=" + lora.rank() + " alpha=" + lora.alpha() + " rslora=" + lora.rslora()
        + " targets=" + String.join(",", lora.targets()));
    return m;
  }

  private static String docString(LlamaLoraModel model) {
    return "Llama-family causal LM (" + model.config().numLayers() + " layers, H=" + model.config().hiddenSize()
        + ") with LoRA adapters merged into the base weights; exported by loraone.";
  }

}
