package dev.loraone.worker.train;

import dev.loraone.worker.weights.BertCheckpoint;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.Pooling;
import dev.loraone.worker.weights.PretrainedModels;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where a BERT-family base model comes from: a model bundled in a Maven jar ({@code minilm},
 * {@code bge-small}) or an HF checkpoint folder. Gives the config, the HF-named weights and the
 * tokenizer, whatever the source.
 */
public record BertSource(String id, BertConfig config, Map<String, FloatTensor> weights, TokenizerOpener tokenizer) {

  /** Opens the model's {@code tokenizer.json}; the caller closes the stream. */
  @FunctionalInterface
  public interface TokenizerOpener {
    InputStream open() throws IOException;
  }

  /** Resolves {@code minilm}, {@code bge-small} (or their full ids) or a folder path. */
  public static BertSource resolve(String model) throws IOException {
    Path dir = Path.of(model);
    if (Files.isDirectory(dir)) {
      BertCheckpoint c = BertCheckpoint.load(dir);
      Path tok = c.tokenizerJson().orElseThrow(() -> new IllegalArgumentException(dir + " has no tokenizer.json"));
      return new BertSource(dir.getFileName().toString(), c.config(), c.weights(), () -> Files.newInputStream(tok));
    }
    PretrainedModels.Known known = known(model);
    PretrainedModels.Pretrained p = PretrainedModels.load(known);
    return new BertSource(known.id(), p.config(), p.weights(), () -> PretrainedModels.openTokenizerJson(known));
  }

  /**
   * The sentence-embedding pooling of {@code model}: a built-in model's ({@link PretrainedModels.Known#pooling()}),
   * or a folder's {@code 1_Pooling/config.json} ({@link Pooling#ofFolder}).
   */
  public static Pooling pooling(String model) throws IOException {
    Path dir = Path.of(model);
    return Files.isDirectory(dir) ? Pooling.ofFolder(dir) : known(model).pooling();
  }

  /** The known jar models by CLI name. */
  public static PretrainedModels.Known known(String name) {
    return switch (name) {
      case "minilm", "all-minilm-l6-v2" -> PretrainedModels.Known.ALL_MINILM_L6_V2;
      case "bge-small", "bge-small-en-v1.5" -> PretrainedModels.Known.BGE_SMALL_EN_V15;
      default ->
          throw new IllegalArgumentException(
              "--model (job key model) "
                  + name
                  + (name.contains("/") || name.contains(java.io.File.separator)
                      ? ": no such folder"
                      : "")
                  + ": expected minilm, bge-small or an existing HF model folder (config.json + model.safetensors + "
                      + "tokenizer.json)");
    };
  }

  public InputStream openTokenizer() {
    try {
      return tokenizer.open();
    } catch (IOException e) {
      throw new UncheckedIOException("opening the tokenizer of " + id, e);
    }
  }
}
