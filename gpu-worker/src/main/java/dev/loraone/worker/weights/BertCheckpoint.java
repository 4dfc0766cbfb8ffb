package dev.loraone.worker.weights;

import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * An HF BERT-family checkpoint folder: {@code config.json} + {@code model.safetensors} (+ {@code
 * tokenizer.json}).
 *
 * <p>Tensor names are normalised to the encoder's own ({@code embeddings.*}, {@code encoder.*}): a
 * {@code bert.} prefix (as in {@code BertForSequenceClassification}) is stripped, and the pooler,
 * the pretraining heads ({@code cls.*}), a {@code classifier.*} head (a new task head is trained)
 * and the {@code position_ids} buffer are dropped. Every tensor must then match the config's
 * shapes; problems name the file and the tensor.
 */
public record BertCheckpoint(
    Path directory,
    BertConfig config,
    Map<String, FloatTensor> weights,
    Optional<Path> tokenizerJson) {

  public static BertCheckpoint load(Path directory) throws IOException {
    Path configFile = directory.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(directory + " has no config.json; is it a Hugging Face model folder?");
    }
    BertConfig config;
    try (InputStream in = Files.newInputStream(configFile)) {
      config = BertConfig.fromJson(in);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(configFile + ": " + e.getMessage().replaceFirst("^config.json: ", ""), e);
    }
    Path file = directory.resolve("model.safetensors");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          directory
              + " has no model.safetensors (sharded or .bin BERT checkpoints are not supported)");
    }
    Map<String, FloatTensor> weights = new LinkedHashMap<>();
    TreeSet<String> dropped = new TreeSet<>();
    for (Map.Entry<String, TensorBlob> e : SafeTensors.read(file).tensors().entrySet()) {
      String name = e.getKey().startsWith("bert.") ? e.getKey().substring("bert.".length()) : e.getKey();
      if (name.startsWith("pooler.")
          || name.startsWith("cls.")
          || name.startsWith("classifier.")
          || name.endsWith("position_ids")) {
        dropped.add(e.getKey());
        continue;
      }
      TensorBlob t = e.getValue();
      try {
        weights.put(name, new FloatTensor(t.shape(), t.toFloats()));
      } catch (IllegalStateException ex) {
        throw new IllegalArgumentException(
            file
                + ": tensor '"
                + e.getKey()
                + "' has dtype "
                + t.dtype()
                + "; expected a float type");
      }
    }
    BertConfig fromWeights;
    try {
      fromWeights = BertConfig.fromWeights(weights, config.numHeads(), config.layerNormEps());
    } catch (IllegalArgumentException ex) {
      throw new IllegalArgumentException(file + ": " + ex.getMessage(), ex);
    }
    if (!fromWeights.equals(config)) {
      throw new IllegalArgumentException(
          file
              + ": tensor shapes do not match "
              + configFile
              + ": the weights say "
              + fromWeights
              + ", config.json says "
              + config);
    }
    Path tokenizer = directory.resolve("tokenizer.json");
    return new BertCheckpoint(
        directory,
        config,
        weights,
        Files.isRegularFile(tokenizer) ? Optional.of(tokenizer) : Optional.empty());
  }
}
