package dev.loraone.cli;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.BertStepper;
import dev.loraone.worker.train.Finetuner;
import dev.loraone.worker.weights.PretrainedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone export}: base model + PEFT adapter -> merged ONNX model with its tokenizer. */
@Command(name = "export", description = "Merge a PEFT adapter into its base model and write ONNX (+ tokenizer.json).")
final class ExportCommand implements Callable<Integer> {
  @Option(names = "--model", defaultValue = "minilm", description = "base model: minilm | bge-small (default: ${DEFAULT-VALUE})") String model;
  @Option(names = "--adapter", required = true, description = "adapter folder (adapter_model.safetensors, adapter_config.json, labels.json)") Path adapter;
  @Option(names = "--out", description = "output folder (default: <adapter>/../model)") Path out;

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(adapter)) throw new IllegalArgumentException("--adapter " + adapter + ": not a folder");
    PretrainedModels.Known known = Finetuner.knownModel(model);
    PeftAdapter a = PeftAdapter.read(adapter);
    List<String> labels = Artifacts.readLabels(adapter);
    Path dir = out != null ? out : adapter.toAbsolutePath().getParent().resolve("model");
    try (BertStepper loaded = Artifacts.loadBert(known, a, labels.size())) {
      OnnxExport e = Artifacts.writeOnnx(loaded.model(), labels, known, dir);
      System.out.printf("wrote %s (%.1f MB%s) and %s%n", e.model(), e.modelBytes() / 1e6,
          e.externalData().map(p -> " + " + p).orElse(""), dir.resolve(Artifacts.TOKENIZER_FILE));
    }
    return 0;
  }
}
