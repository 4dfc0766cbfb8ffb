package dev.loraone.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.worker.export.OnnxEmbedder;
import dev.loraone.worker.train.Artifacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code loraone embed}: sentence embeddings, or a ranking against a query, with an exported model in ONNX Runtime. */
@Command(name = "embed", description = "Embed texts with an exported ONNX model (unit vectors, one JSON line per text),"
    + " or with --query rank them by cosine similarity.")
final class EmbedCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--model-dir", required = true, description = "folder with model.onnx and tokenizer.json"
      + " (from finetune with task.type = embedding, or export)") Path dir;
  @Option(names = "--query", description = "rank the texts by cosine similarity to this query") String query;
  @Option(names = "--file", description = "read texts from FILE, one per line") Path file;
  @Option(names = "--max-length", defaultValue = "128", description = "tokens per text (default: ${DEFAULT-VALUE})")
  int maxLength;
  @Parameters(arity = "0..*", description = "texts to embed or rank") List<String> texts = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Path onnx = dir.resolve(Artifacts.ONNX_FILE);
    Path tok = dir.resolve(Artifacts.TOKENIZER_FILE);
    for (Path p : List.of(onnx, tok)) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException(p + ": missing (expected the output of loraone finetune or export)");
      }
    }
    List<String> all = new ArrayList<>(texts);
    if (file != null) all.addAll(Files.readAllLines(file).stream().filter(l -> !l.isBlank()).toList());
    if (all.isEmpty()) throw new IllegalArgumentException("no texts: pass them as arguments or with --file");
    try (OnnxEmbedder e = OnnxEmbedder.open(onnx, tok, maxLength)) {
      if (query != null) {
        for (OnnxEmbedder.Hit h : e.rank(query, all)) System.out.printf("%.4f\t%s%n", h.score(), all.get(h.index()));
        return 0;
      }
      float[][] vectors = e.embed(all);
      for (int i = 0; i < all.size(); i++) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("text", all.get(i));
        line.put("embedding", vectors[i]);
        System.out.println(JSON.writeValueAsString(line));
      }
    }
    return 0;
  }
}
