package dev.loraone.worker.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The model families the engine runs, detected once from what the job's {@code model} names: a
 * built-in model ({@code minilm}, {@code bge-small}) or an HF folder whose {@code config.json} has
 * a supported {@code model_type}. Every entry point asks here first, so a folder of another type is
 * refused when the job is submitted, naming the key and the supported types, never late on a worker.
 *
 * <pre>
 *   family   model_type            tasks it trains (the first is task.type = auto)   built-in names
 *   BERT     bert                  classification, embedding   minilm, all-minilm-l6-v2, bge-small, bge-small-en-v1.5
 *   LLAMA    llama, mistral, qwen2 causal-lm                   -
 * </pre>
 */
public enum ModelFamily {
  BERT(Set.of("bert"), List.of("classification", "embedding")),
  /** The Llama architecture ({@link LlamaConfig}): Llama 1-3, Mistral, Qwen2. */
  LLAMA(LlamaConfig.MODEL_TYPES, List.of("causal-lm"));

  /** The models bundled in Maven jars, by the names a job may use. */
  public static final List<String> BUILT_IN = List.of("minilm", "all-minilm-l6-v2", "bge-small", "bge-small-en-v1.5");

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Set<String> modelTypes;
  private final List<String> taskTypes;

  ModelFamily(Set<String> modelTypes, List<String> taskTypes) {
    this.modelTypes = modelTypes;
    this.taskTypes = taskTypes;
  }

  /** The task types this family trains, its default first ({@code classification, embedding} | {@code causal-lm}). */
  public List<String> taskTypes() {
    return taskTypes;
  }

  /** The task {@code task.type = auto} means for this family: {@code classification} (BERT) or {@code causal-lm}. */
  public String defaultTaskType() {
    return taskTypes.get(0);
  }

  /** The concrete task of a job's {@code task.type}: {@code auto} (or unset) is {@link #defaultTaskType()}. */
  public String resolve(String taskType) {
    return taskType == null || taskType.equals("auto") ? defaultTaskType() : taskType;
  }

  /**
   * The family of {@code model}: a built-in name or an HF folder.
   *
   * @throws IllegalArgumentException naming the job key {@code model}, the value and what was expected
   */
  public static ModelFamily detect(String model) {
    if (model == null || model.isBlank())
      throw new IllegalArgumentException("'job.model' is blank: expected " + expected());
    if (BUILT_IN.contains(model.toLowerCase(Locale.ROOT))) return BERT;
    Path dir;
    try {
      dir = Path.of(model);
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException("'job.model' = \"" + model + "\" is not a path: expected " + expected());
    }
    Path config = dir.resolve("config.json");
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("'job.model' = \"" + model + "\": no such folder; expected " + expected());
    }
    if (!Files.isRegularFile(config)) {
      throw new IllegalArgumentException(
          "'job.model' = \"" + model + "\": the folder has no config.json; expected " + expected());
    }
    JsonNode type;
    try {
      type = JSON.readTree(config.toFile()).get("model_type");
    } catch (IOException e) {
      throw new IllegalArgumentException(config + ": not readable JSON (" + e.getMessage() + ")");
    }
    String t = type == null || !type.isTextual() ? null : type.asText();
    for (ModelFamily f : values()) {
      if (t != null && f.modelTypes.contains(t)) return f;
    }
    throw new IllegalArgumentException(config + ": 'model_type' is " + (type == null ? "missing" : type)
        + "; 'job.model' supports model_type " + supportedTypes());
  }

  /** Every supported {@code model_type}, e.g. {@code [bert, llama, mistral, qwen2]}. */
  public static List<String> supportedTypes() {
    return java.util.Arrays.stream(values()).flatMap(f -> f.modelTypes.stream().sorted()).toList();
  }

  private static String expected() {
    return "minilm, bge-small or an HF model folder with config.json of model_type " + supportedTypes();
  }
}
