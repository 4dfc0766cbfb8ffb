package dev.loraone.cli;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.BertStepper;
import dev.loraone.worker.train.BertSource;
import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.train.LlamaStepper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone export}: base model + PEFT adapter -> merged ONNX model with its tokenizer. */
@Command(name = "export", description = "Merge a PEFT adapter into its base model and write ONNX (+ tokenizer.json).")
final class ExportCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      defaultValue = "minilm",
      description = "base model: minilm | bge-small | HF folder (default: ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--adapter", required = true, description = "adapter folder (adapter_model.safetensors,"
      + " adapter_config.json, and labels.json for a classifier; an embedding adapter, task_type FEATURE_EXTRACTION,"
      + " exports with its base model's pooling)") Path adapter;
  @Option(names = "--out", description = "output folder (default: <adapter>/../model)") Path out;

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(adapter)) throw new IllegalArgumentException("--adapter " + adapter + ": not a folder");
    if (ModelFamily.detect(model) == ModelFamily.LLAMA) return exportLlama();
    BertSource source = BertSource.resolve(model);
    PeftAdapter a = PeftAdapter.read(adapter);
    boolean embedding = TaskMetrics.peftTaskType(TaskMetrics.EMBEDDING).equals(a.config().taskType());
    List<String> labels = embedding ? List.of() : Artifacts.readLabels(adapter);
    BertLoraModel.Head head = embedding ? new BertLoraModel.Head.Embedding(BertSource.pooling(model))
        : new BertLoraModel.Head.Classification(labels.size());
    Path dir = out != null ? out : adapter.toAbsolutePath().getParent().resolve("model");
    try (BertStepper loaded = Artifacts.loadBert(source, a, head)) {
      OnnxExport e = Artifacts.writeOnnx(loaded.model(), labels, source, dir);
      System.out.printf("wrote %s (%.1f MB%s) and %s%n", e.model(), e.modelBytes() / 1e6,
          e.externalData().map(p -> " + " + p).orElse(""), dir.resolve(Artifacts.TOKENIZER_FILE));
    }
    return 0;
  }

  /**
   * The Llama branch: {@code --model} is a Llama-family folder; writes model.onnx (with its KV cache) and the
   * tokenizer, config and generation files a decoder reads.
   */
  private int exportLlama() throws Exception {
    Path dir = out != null ? out : adapter.toAbsolutePath().getParent().resolve("model");
    try (LlamaStepper loaded = LlamaArtifacts.load(Path.of(model), PeftAdapter.read(adapter))) {
      OnnxExport e = LlamaArtifacts.writeOnnx(loaded.model(), Path.of(model), dir);
      List<String> beside;
      try (var files = java.nio.file.Files.list(dir)) {
        beside = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json")).sorted().toList();
      }
      System.out.printf("wrote %s (%.1f MB%s) with %s beside it in %s; decode with: loraone generate --onnx %s%n",
          e.model(), e.modelBytes() / 1e6, e.externalData().map(p -> " + " + p).orElse(""),
          String.join(", ", beside), dir, dir);
    }
    return 0;
  }
}
