package dev.loraone.worker.export;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.BertConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a trained {@link BertLoraModel} as a standalone ONNX model with every LoRA adapter merged
 * into its base weight ({@code W' = W0 + s*B*A}, Hu et al. 2021, arXiv:2106.09685): the artefact a
 * job hands to inference, which then needs neither DJL nor the notion of an adapter.
 *
 * <pre>
 *   inputs   input_ids, attention_mask, token_type_ids   int64 [batch, sequence]   (dynamic axes)
 *   outputs  last_hidden_state                           float [batch, sequence, H]
 *            sentence_embedding                          float [batch, H]
 *              (masked mean pooling; the first token's state for an embedding head with CLS pooling;
 *               not normalised: the embedding task's consumers L2-normalise, as langchain4j does)
 *            logits (classification head only)           float [batch, C]
 * </pre>
 *
 * The graph is opset 17 (for {@code LayerNormalization}), IR version 8; {@link BertOnnxGraph}
 * lists its ops. The merge is computed from the model's current weights in scratch memory: the
 * model is only read, and stays merged or unmerged as it was.
 *
 * <p>Metadata ({@code metadata_props}, ONNX Runtime's custom metadata): {@code model_type},
 * {@code head}, {@code pooling}, the architecture sizes, the merged LoRA settings, and {@value
 * #METADATA_LABELS}, a JSON array of class names, when given. The producer is {@value #PRODUCER}.
 *
 * <p>Size: protobuf cannot serialise a message over 2 GiB. When the weights exceed the
 * external-data threshold, they are written to {@code <file>.data} beside the model instead
 * ({@link ExternalDataFile}); keep the two files together. The model file is written last, through
 * a temporary file and a rename, so a reader never sees a half-written {@code .onnx}.
 */
public final class BertOnnxExporter {

  /** ONNX operator set of the export. */
  public static final int OPSET = OnnxFileWriter.OPSET;
  /** The producer name in the model. */
  public static final String PRODUCER = OnnxFileWriter.PRODUCER;
  /** Metadata key of the class names, a JSON array in logit order. */
  public static final String METADATA_LABELS = "labels";
  /** Weight bytes above which weights go to external data: protobuf's 2 GiB limit less room for the graph. */
  public static final long DEFAULT_EXTERNAL_DATA_THRESHOLD = 1_800_000_000L;

  static final long IR_VERSION = OnnxFileWriter.IR_VERSION;
  static final String GRAPH_NAME = "bert_lora_merged";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final long externalDataThreshold;

  /** An exporter that keeps weights inside the {@code .onnx} file up to about 1.8 GB. */
  public BertOnnxExporter() {
    this(DEFAULT_EXTERNAL_DATA_THRESHOLD);
  }

  /** @param externalDataThreshold weight bytes above which weights go to a side file (tests force it low) */
  BertOnnxExporter(long externalDataThreshold) {
    if (externalDataThreshold < 0) {
      throw new IllegalArgumentException("externalDataThreshold must be >= 0, got " + externalDataThreshold);
    }
    this.externalDataThreshold = externalDataThreshold;
  }

  /** Exports {@code model} to {@code onnxFile} (replaced if present) without class names. */
  public OnnxExport export(BertLoraModel model, Path onnxFile) throws IOException {
    return export(model, onnxFile, List.of());
  }

  /**
   * Exports {@code model} to {@code onnxFile}, replacing it and any external-data file of an
   * earlier export there.
   *
   * @param labels class names in logit order, stored in the metadata; empty for none, otherwise
   *     exactly one per class of the model's classification head
   */
  public OnnxExport export(BertLoraModel model, Path onnxFile, List<String> labels) throws IOException {
    checkLabels(model, labels);
    return OnnxFileWriter.write(
        onnxFile,
        GRAPH_NAME,
        weightBytes(model),
        externalDataThreshold,
        g -> {
          BertOnnxGraph.build(g, model);
          return g.model(
              IR_VERSION,
              OPSET,
              PRODUCER,
              OnnxFileWriter.producerVersion(),
              docString(model),
              metadata(model, labels));
        });
  }

  /** Float32 bytes of the exported weights: every parameter but the adapters (merged into W). */
  static long weightBytes(BertLoraModel model) {
    return OnnxFileWriter.weightBytes(model.namedParameters());
  }


  private static void checkLabels(BertLoraModel model, List<String> labels) {
    if (labels.isEmpty()) {
      return;
    }
    if (!(model.head() instanceof BertLoraModel.Head.Classification c)) {
      throw new IllegalArgumentException("labels given for a model without a classification head");
    }
    if (labels.size() != c.numLabels()) {
      throw new IllegalArgumentException("the classification head has " + c.numLabels() + " classes but "
          + labels.size() + " labels were given: " + labels);
    }
    if (labels.stream().anyMatch(l -> l == null || l.isBlank())) {
      throw new IllegalArgumentException("labels must be non-blank: " + labels);
    }
  }

  private static Map<String, String> metadata(BertLoraModel model, List<String> labels) {
    BertConfig c = model.config();
    LoraConfig lora = model.loraConfig();
    Map<String, String> m = new LinkedHashMap<>();
    m.put("model_type", "bert");
    m.put("head", model.head() instanceof BertLoraModel.Head.Classification ? "classification" : "embedding");
    m.put("pooling", model.head() instanceof BertLoraModel.Head.Embedding e ? e.pooling().id() : "mean");
    m.put("hidden_size", Integer.toString(c.hiddenSize()));
    m.put("num_hidden_layers", Integer.toString(c.numLayers()));
    m.put("num_attention_heads", Integer.toString(c.numHeads()));
    m.put("max_position_embeddings", Integer.toString(c.maxPositions()));
    m.put("layer_norm_eps", Double.toString(c.layerNormEps()));
    m.put("lora_merged", "rank=" + lora.rank() + " alpha=" + lora.alpha() + " rslora=" + lora.rslora()
        + " targets=" + String.join(",", lora.targets()));
    if (!labels.isEmpty()) {
      try {
        m.put(METADATA_LABELS, JSON.writeValueAsString(labels));
      } catch (JsonProcessingException e) {
        throw new UncheckedIOException(e);
      }
    }
    return m;
  }

  private static String docString(BertLoraModel model) {
    return "BERT-family encoder (" + model.config().numLayers() + " layers, H=" + model.config().hiddenSize()
        + ") with LoRA adapters merged into the base weights; exported by loraone.";
  }

}
