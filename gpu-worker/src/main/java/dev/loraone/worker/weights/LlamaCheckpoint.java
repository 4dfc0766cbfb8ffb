package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face Llama-family model folder, read into float32 tensors under HF names:
 *
 * <pre>
 *   config.json                                  -> {@link LlamaConfig}
 *   model.safetensors                            one file, or
 *   model.safetensors.index.json + shards        {"weight_map": {tensor name: shard file}}
 *   tokenizer.json                               optional, see {@link #tokenizerJson()}
 * </pre>
 *
 * <p>A folder with only {@code pytorch_model.bin} (a pickle) is refused: unpickling can run code,
 * and this reader never does it; the message says how to convert it to safetensors.
 *
 * <p>Tensors may be F32, F16, BF16 or F64; they are widened to float32 ({@link
 * TensorBlob#toFloats()}). The set of tensors must be exactly {@link LlamaConfig#tensorShapes()}:
 * every missing, unexpected or mis-shaped tensor is listed in one {@link IllegalArgumentException}
 * naming the file and the tensor. Two tolerated extras: RoPE {@code inv_freq} buffers (recomputed
 * from the config) and an {@code lm_head.weight} equal to {@code embed_tokens} in a tied model.
 *
 * <p>Memory: the headers are checked first (every problem before any data is read), then each tensor
 * is widened to float32 straight from a read-only memory mapping of its own bytes, one at a time, so
 * loading holds the float32 weights plus the page cache of the tensor being read; no file or raw
 * tensor bytes are copied onto the heap.
 *
 * @param directory the folder
 * @param config its config.json
 * @param weights HF name to float32 tensor, in {@link LlamaConfig#tensorShapes()} order
 * @param tokenizerJson the folder's {@code tokenizer.json}, if it has one
 */
public record LlamaCheckpoint(Path directory, LlamaConfig config, Map<String, FloatTensor> weights,
    Optional<Path> tokenizerJson) {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String INDEX = "model.safetensors.index.json";
  private static final String SINGLE = "model.safetensors";
  private static final List<String> PICKLES = List.of("pytorch_model.bin", "pytorch_model.bin.index.json");
  private static final Set<DType> FLOAT_TYPES = Set.of(DType.F32, DType.F16, DType.BF16, DType.F64);
  private static final int MAX_LISTED = 10;

  public LlamaCheckpoint {
    weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights));
  }

  /** Reads {@code directory}; see the class comment for what it must hold. */
  public static LlamaCheckpoint load(Path directory) throws IOException {
    Checked c = check(directory);
    Map<String, FloatTensor> weights = new LinkedHashMap<>();
    for (String name : c.tensors().keySet()) { // one tensor at a time, mapped from its file
      weights.put(name, c.read(name));
    }
    return new LlamaCheckpoint(directory, c.config(), weights, c.tokenizerJson());
  }

  /**
   * A folder whose config and every tensor header passed {@link #load}'s checks, no tensor data read
   * yet: read the tensors one at a time ({@link #read}) straight into where they go.
   *
   * @param tensors HF name to its file and header, in {@link LlamaConfig#tensorShapes()} order
   */
  public record Checked(Path directory, LlamaConfig config, Map<String, Map.Entry<Path, SafeTensors.Entry>> tensors,
      Optional<Path> tokenizerJson) {
    /** One tensor, widened to float32 from a memory mapping of its bytes. */
    public FloatTensor read(String name) throws IOException {
      Map.Entry<Path, SafeTensors.Entry> t = tensors.get(name);
      if (t == null) {
        throw new IllegalArgumentException(directory + " has no tensor '" + name + "'");
      }
      return new FloatTensor(t.getValue().shape(), SafeTensors.floats(t.getKey(), t.getValue()));
    }
  }

  /** Checks {@code directory} as {@link #load} does (every problem named), reading headers only. */
  public static Checked check(Path directory) throws IOException {
    Path configFile = directory.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(directory + " has no config.json; is it a Hugging Face model folder?");
    }
    LlamaConfig config = LlamaConfig.fromJson(configFile);
    Map<Path, Set<String>> files = weightFiles(directory);
    Map<String, Path> sourceOf = new LinkedHashMap<>();
    Map<String, SafeTensors.Entry> entries = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    for (Map.Entry<Path, Set<String>> f : files.entrySet()) {
      Path file = f.getKey();
      Set<String> listed = f.getValue();
      Map<String, SafeTensors.Entry> read = SafeTensors.entries(file);
      for (Map.Entry<String, SafeTensors.Entry> e : read.entrySet()) {
        String name = e.getKey();
        if (listed != null && !listed.contains(name)) {
          problems.add(file + ": tensor '" + name + "' is not mapped to this file by " + INDEX);
        } else if (sourceOf.containsKey(name)) {
          problems.add(file + ": tensor '" + name + "' is also in " + sourceOf.get(name));
        } else if (!name.endsWith(".rotary_emb.inv_freq")) {
          sourceOf.put(name, file);
          entries.put(name, e.getValue());
        }
      }
      if (listed != null) {
        listed.stream().filter(n -> !read.containsKey(n)).sorted().forEach(n ->
            problems.add(file + ": tensor '" + n + "' is listed in " + INDEX + " but not in the file"));
      }
    }
    check(config, entries, sourceOf, problems);
    if (!problems.isEmpty()) {
      List<String> shown = problems.subList(0, Math.min(MAX_LISTED, problems.size()));
      throw new IllegalArgumentException("checkpoint " + directory + " does not fit its config.json ("
          + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "):\n  "
          + String.join("\n  ", shown) + (problems.size() > shown.size() ? "\n  ..." : ""));
    }
    Map<String, Map.Entry<Path, SafeTensors.Entry>> tensors = new LinkedHashMap<>();
    for (String name : config.tensorShapes().keySet()) {
      tensors.put(name, Map.entry(sourceOf.get(name), entries.get(name)));
    }
    Path tokenizer = directory.resolve("tokenizer.json");
    return new Checked(directory, config, Collections.unmodifiableMap(tensors),
        Files.isRegularFile(tokenizer) ? Optional.of(tokenizer) : Optional.empty());
  }

  /**
   * What {@link #load} checks before reading any tensor, for a quick answer when a job is submitted:
   * config.json (every refused key) and which weight files there are (a pickle-only folder is
   * refused). Reads no tensor data.
   */
  public static LlamaConfig checkFolder(Path directory) throws IOException {
    Path configFile = directory.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(directory + " has no config.json; is it a Hugging Face model folder?");
    }
    LlamaConfig config = LlamaConfig.fromJson(configFile);
    weightFiles(directory);
    return config;
  }

  /**
   * The weight files and, for a sharded checkpoint, the tensor names the index maps to each (null
   * for a single file, whose content is taken as it is).
   */
  private static Map<Path, Set<String>> weightFiles(Path directory) throws IOException {
    Path index = directory.resolve(INDEX);
    Map<Path, Set<String>> files = new TreeMap<>();
    if (Files.isRegularFile(index)) {
      JsonNode map = JSON.readTree(index.toFile()).get("weight_map");
      if (map == null || !map.isObject() || map.isEmpty()) {
        throw new IllegalArgumentException(index + ": 'weight_map' must be a non-empty object of tensor name -> file");
      }
      map.fields().forEachRemaining(e -> {
        Path shard = directory.resolve(e.getValue().asText());
        if (!Files.isRegularFile(shard)) {
          throw new IllegalArgumentException(index + ": tensor '" + e.getKey() + "' maps to "
              + e.getValue().asText() + ", which does not exist in " + directory);
        }
        files.computeIfAbsent(shard, s -> new java.util.TreeSet<>()).add(e.getKey());
      });
      return files;
    }
    Path single = directory.resolve(SINGLE);
    if (Files.isRegularFile(single)) {
      files.put(single, null);
      return files;
    }
    List<Path> found;
    try (Stream<Path> s = Files.list(directory)) {
      found = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
    }
    if (found.isEmpty()) {
      for (String pickle : PICKLES) {
        if (Files.isRegularFile(directory.resolve(pickle))) {
          throw new IllegalArgumentException(directory + " holds " + pickle + " but no .safetensors weights: "
              + "PyTorch pickle checkpoints are not loaded (unpickling can run arbitrary code); convert the folder "
              + "to safetensors first, e.g. in Python: AutoModelForCausalLM.from_pretrained(dir)"
              + ".save_pretrained(dir, safe_serialization=True)");
        }
      }
    }
    if (found.size() != 1) {
      throw new IllegalArgumentException(directory + " has no " + SINGLE + " and no " + INDEX
          + (found.isEmpty() ? "" : ", and " + found.size() + " other .safetensors files are ambiguous: " + found));
    }
    files.put(found.get(0), null);
    return files;
  }

  /**
   * Checks names, dtypes and shapes against the config from the headers alone, appending to {@code
   * problems}; a tied model's saved {@code lm_head.weight} is read (with the embeddings) to check it is a copy.
   */
  private static void check(LlamaConfig config, Map<String, SafeTensors.Entry> entries, Map<String, Path> sourceOf,
      List<String> problems) throws IOException {
    Map<String, long[]> expected = config.tensorShapes();
    if (config.tieWordEmbeddings() && entries.containsKey("lm_head.weight")) {
      SafeTensors.Entry head = entries.remove("lm_head.weight");
      SafeTensors.Entry embed = entries.get("model.embed_tokens.weight");
      if (embed == null || !Arrays.equals(SafeTensors.floats(sourceOf.get("lm_head.weight"), head),
          SafeTensors.floats(sourceOf.get("model.embed_tokens.weight"), embed))) {
        problems.add(sourceOf.get("lm_head.weight") + ": tensor 'lm_head.weight' differs from "
            + "'model.embed_tokens.weight', but config.json says 'tie_word_embeddings': true");
      } // else a tied head saved twice
    }
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      String name = e.getKey();
      SafeTensors.Entry t = entries.get(name);
      if (t == null) {
        problems.add("missing tensor '" + name + "' " + Arrays.toString(e.getValue()) + " (looked in "
            + sourceOf.values().stream().distinct().map(p -> p.getFileName().toString()).sorted().toList() + ")");
      } else if (!FLOAT_TYPES.contains(t.dtype())) {
        problems.add(sourceOf.get(name) + ": tensor '" + name + "' has dtype " + t.dtype()
            + "; only F32, F16, BF16 and F64 weights are supported");
      } else if (!Arrays.equals(t.shape(), e.getValue())) {
        problems.add(sourceOf.get(name) + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
            + ", config.json implies " + Arrays.toString(e.getValue()));
      }
    }
    entries.keySet().stream().filter(n -> !expected.containsKey(n)).forEach(n -> problems.add(sourceOf.get(n)
        + ": unexpected tensor '" + n + "', not part of a " + config.numLayers() + "-layer "
        + (config.tieWordEmbeddings() ? "tied " : "") + config.modelType() + " model"
        + (n.endsWith(".bias") && !config.qkvBias() ? " (q/k/v biases are read with model_type qwen2)" : "")));
  }

}
