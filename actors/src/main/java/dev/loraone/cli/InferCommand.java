package dev.loraone.cli;

import dev.loraone.worker.export.OnnxClassifier;
import dev.loraone.worker.train.Artifacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code loraone infer}: classify texts with an exported model in ONNX Runtime. */
@Command(name = "infer", description = "Classify texts with an exported ONNX model (ONNX Runtime).")
final class InferCommand implements Callable<Integer> {
  @Option(
      names = "--model-dir",
      required = true,
      description = "folder with model.onnx and tokenizer.json (from finetune or export)")
  Path dir;

  @Option(names = "--file", description = "read texts from FILE, one per line") Path file;
  @Option(names = "--max-length", defaultValue = "128",
      description = "longest token sequence per text (default: ${DEFAULT-VALUE})") int maxLength;

  @Option(
      names = "--top",
      defaultValue = "1",
      description = "labels to show per text (default: ${DEFAULT-VALUE})")
  int top;

  @Parameters(arity = "0..*", description = "texts to classify") List<String> texts = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Path onnx = dir.resolve(Artifacts.ONNX_FILE);
    Path tok = dir.resolve(Artifacts.TOKENIZER_FILE);
    for (Path p : List.of(onnx, tok)) {
      if (!Files.isRegularFile(p))
        throw new IllegalArgumentException(
            p + ": missing (expected the output of loraone finetune or export)");
    }
    List<String> all = new ArrayList<>(texts);
    if (file != null) all.addAll(Files.readAllLines(file).stream().filter(l -> !l.isBlank()).toList());
    if (all.isEmpty()) throw new IllegalArgumentException("no texts: pass them as arguments or with --file");
    try (OnnxClassifier c = OnnxClassifier.open(onnx, tok, maxLength)) {
      List<OnnxClassifier.Prediction> preds = c.predict(all);
      for (int i = 0; i < all.size(); i++) {
        float[] p = preds.get(i).probabilities();
        Integer[] order = new Integer[p.length];
        for (int k = 0; k < p.length; k++) order[k] = k;
        java.util.Arrays.sort(order, (x, y) -> Float.compare(p[y], p[x]));
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < Math.min(top, p.length); k++) {
          sb.append(String.format("%s%s %.3f", k > 0 ? ", " : "", c.labels().get(order[k]), p[order[k]]));
        }
        System.out.println(sb + "\t" + all.get(i));
      }
    }
    return 0;
  }
}
