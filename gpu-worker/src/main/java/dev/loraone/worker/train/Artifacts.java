package dev.loraone.worker.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.worker.export.BertOnnxExporter;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.Owned;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a fine-tune leaves behind, and the way back in.
 *
 * <ul>
 *   <li>{@code adapter/}: PEFT {@code adapter_model.safetensors} + {@code adapter_config.json}, plus
 *       {@code labels.json} (class names in id order; PEFT adapters carry none).
 *   <li>{@code model/}: {@code model.onnx} (merged, labels in its metadata) + the model's
 *       {@code tokenizer.json}, so ONNX Runtime serves it with nothing else.
 * </ul>
 */
public final class Artifacts {
  public static final String LABELS_FILE = "labels.json";
  public static final String ONNX_FILE = "model.onnx";
  public static final String TOKENIZER_FILE = "tokenizer.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private Artifacts() {}

  public static void writeAdapter(PeftAdapter adapter, List<String> labels, Path dir) throws IOException {
    adapter.write(dir);
    Files.writeString(dir.resolve(LABELS_FILE), JSON.writeValueAsString(labels) + "\n");
  }

  /** Exports the merged model and copies its tokenizer next to it. */
  public static OnnxExport writeOnnx(BertLoraModel model, List<String> labels, BertSource source, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    OnnxExport export = new BertOnnxExporter().export(model, dir.resolve(ONNX_FILE), labels);
    try (InputStream in = source.openTokenizer()) {
      Files.copy(in, dir.resolve(TOKENIZER_FILE), StandardCopyOption.REPLACE_EXISTING);
    }
    return export;
  }

  public static List<String> readLabels(Path adapterDir) throws IOException {
    Path f = adapterDir.resolve(LABELS_FILE);
    if (!Files.isRegularFile(f)) {
      throw new IOException(
          f
              + ": missing; a classification adapter needs its class names (written by loraone finetune)");
    }
    List<String> labels = new ArrayList<>();
    JSON.readTree(f.toFile()).forEach(n -> labels.add(n.asText()));
    if (labels.isEmpty()) throw new IOException(f + ": expected a non-empty JSON array of class names");
    return labels;
  }

  /**
   * Builds the pretrained model with a PEFT adapter applied (adapters unmerged, head from
   * {@code modules_to_save}). The returned stepper owns the model's native memory.
   */
  public static BertStepper loadBert(BertSource source, PeftAdapter adapter, int numLabels) {
    return loadBert(source, adapter, new BertLoraModel.Head.Classification(numLabels));
  }

  /**
   * {@link #loadBert(BertSource, PeftAdapter, int)} with any head: an embedding adapter ({@code task_type
   * FEATURE_EXTRACTION}) takes {@code Head.Embedding} with its base model's pooling.
   */
  public static BertStepper loadBert(BertSource source, PeftAdapter adapter, BertLoraModel.Head head) {
    PeftAdapter.Config c = adapter.config();
    LoraConfig lora =
        new LoraConfig(
            c.r(), c.loraAlpha(), c.useRslora(), 0.0, 0, List.copyOf(adapter.modules().keySet()));
    BertLoraModel model = BertLoraModel.fromPretrained(source.config(), lora, head, source.weights());
    List<String> missing =
        adapter.modules().keySet().stream()
            .filter(m -> !model.adaptedModules().contains(m))
            .toList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("adapter modules " + missing + " do not exist in " + source.id());
    }
    BertStepper stepper = new BertStepper(model);
    adapter.modules().forEach((m, p) -> {
      model.setLoraA(m, p.a().toFloats());
      model.setLoraB(m, p.b().toFloats());
    });
    for (Map.Entry<String, TensorBlob> e : adapter.savedModules().entrySet()) {
      var param = model.namedParameters().get(e.getKey());
      if (param == null) throw new IllegalArgumentException("adapter saves unknown module tensor " + e.getKey());
      if (param.getArray().size() != e.getValue().numel()) {
        throw new IllegalArgumentException(e.getKey() + " has " + e.getValue().numel() + " values, the model expects "
            + param.getArray().getShape() + " (head " + head + ")");
      }
      Owned.write(param.getArray(), e.getValue().toFloats());
    }
    return stepper;
  }
}
