package dev.loraone.protocol.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LoRA adapter in Hugging Face PEFT's on-disk format: {@code adapter_model.safetensors} with keys
 * {@code base_model.model.<module>.lora_A.weight} ({@code [r, in]}) and {@code ...lora_B.weight}
 * ({@code [out, r]}), the module's path in the task's HF model class ({@link #wrapper}), plus
 * {@code adapter_config.json} (sorted keys, indent 2, as PEFT writes it).
 *
 * <p>A LoRA-One adapter is a plain LoRA adapter because W0 is untouched (reference section 8.4).
 * Inits that modify W0 (PiSSA, LoRA-GA) are exported with {@link #subtractMutatedInit}: the
 * rank-2r adapter {@code A' = [A; A0]}, {@code B' = [B, -B0]} whose product is {@code B A - B0 A0}.
 *
 * <p>Fully trained modules (PEFT's {@code modules_to_save}, e.g. a classification head) are kept in
 * {@link #savedModules} by parameter name ({@code classifier.weight}) and stored under
 * {@code base_model.model.<name>}, as PEFT does after stripping the adapter name.
 */
public record PeftAdapter(Config config, Map<String, Pair> modules, Map<String, TensorBlob> savedModules) {
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";
  public static final String CONFIG_FILE = "adapter_config.json";
  private static final String PREFIX = "base_model.model.";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** One module's factors, float32: {@code a:[r,in]}, {@code b:[out,r]}. */
  public record Pair(TensorBlob a, TensorBlob b) {
    public Pair {
      long[] as = a.shape();
      long[] bs = b.shape();
      if (as.length != 2 || bs.length != 2 || as[0] != bs[1]) {
        throw new IllegalArgumentException(
            "lora_A "
                + Arrays.toString(as)
                + " and lora_B "
                + Arrays.toString(bs)
                + " must be [r,in] and [out,r] with the same r");
      }
    }

    public int rank() {
      return (int) a.shape()[0];
    }
  }

  /** The adapter_config.json fields this project reads and writes. */
  public record Config(
      int r, double loraAlpha, boolean useRslora, List<String> targetModules, String taskType,
      String baseModel, double loraDropout) {
    public Config {
      if (r < 1) throw new IllegalArgumentException("r must be >= 1, got " + r);
      if (!(loraAlpha > 0) || Double.isInfinite(loraAlpha)) {
        throw new IllegalArgumentException("lora_alpha must be finite and > 0, got " + loraAlpha);
      }
      targetModules = List.copyOf(targetModules);
    }

    /** The factor applied to {@code B A}: alpha/r, or alpha/sqrt(r) with rsLoRA. */
    public double scaling() {
      return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    }
  }

  public PeftAdapter(Config config, Map<String, Pair> modules) {
    this(config, modules, Map.of());
  }

  public PeftAdapter {
    modules = java.util.Collections.unmodifiableMap(new TreeMap<>(modules));
    savedModules = java.util.Collections.unmodifiableMap(new TreeMap<>(savedModules));
    for (Map.Entry<String, Pair> e : modules.entrySet()) {
      if (e.getValue().rank() != config.r()) {
        throw new IllegalArgumentException(
            "module " + e.getKey() + " has rank " + e.getValue().rank() + " but the config says r=" + config.r());
      }
    }
  }

  public void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Map<String, TensorBlob> tensors = new TreeMap<>();
    modules.forEach((name, p) -> {
      String key = PREFIX + wrapper(config.taskType(), name) + name;
      tensors.put(key + ".lora_A.weight", p.a());
      tensors.put(key + ".lora_B.weight", p.b());
    });
    savedModules.forEach((name, t) -> tensors.put(PREFIX + name, t));
    SafeTensors.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));

    ObjectNode c = JSON.createObjectNode();
    Map<String, Object> fields = new TreeMap<>();
    fields.put("alpha_pattern", Map.of());
    fields.put("base_model_name_or_path", config.baseModel());
    fields.put("bias", "none");
    fields.put("fan_in_fan_out", false);
    fields.put("inference_mode", true);
    fields.put("init_lora_weights", true);
    fields.put("lora_alpha", config.loraAlpha());
    fields.put("lora_dropout", config.loraDropout());
    fields.put("modules_to_save", savedModules.isEmpty() ? null : savedModuleNames());
    fields.put("peft_type", "LORA");
    fields.put("r", config.r());
    fields.put("rank_pattern", Map.of());
    fields.put("target_modules", config.targetModules());
    fields.put("task_type", config.taskType());
    fields.put("use_dora", false);
    fields.put("use_rslora", config.useRslora());
    fields.forEach((k, v) -> c.set(k, JSON.valueToTree(v)));
    Path tmp = Files.createTempFile(dir, CONFIG_FILE, ".tmp");
    try {
      Files.writeString(tmp, JSON.writeValueAsString(c) + "\n");
      Files.move(tmp, dir.resolve(CONFIG_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * PEFT's resolved {@code target_modules} for adapters on {@code modules}: the distinct last name
   * components, sorted ({@code q_proj, v_proj}; {@code dense, key, query, value}), as PEFT saves them
   * after expanding {@code all-linear}; a list element is matched as a name suffix when loading.
   */
  public static List<String> targetModules(java.util.Collection<String> modules) {
    return modules.stream().map(m -> m.substring(m.lastIndexOf('.') + 1)).distinct().sorted().toList();
  }

  private static final String BERT = "bert.";

  /**
   * Where the task's HF model class keeps the encoder's modules, as PEFT names them: a
   * {@code BertForSequenceClassification} ({@code SEQ_CLS}) holds its {@code BertModel} under
   * {@code bert.}, so {@code encoder.layer.0...} is saved as {@code base_model.model.bert.encoder.layer.0...};
   * a {@code BertModel} ({@code FEATURE_EXTRACTION}) and a {@code LlamaForCausalLM} ({@code CAUSAL_LM},
   * whose module names already start with {@code model.}) need nothing. The head ({@code classifier})
   * sits at the top of the task model, so {@code modules_to_save} keys take no wrapper.
   */
  static String wrapper(String taskType, String module) {
    return "SEQ_CLS".equals(taskType)
            && (module.startsWith("encoder.") || module.startsWith("embeddings."))
        ? BERT
        : "";
  }

  /** Loads an adapter written by PEFT or by {@link #write}. Errors name the file and key. */
  public static PeftAdapter read(Path dir) throws IOException {
    Path cfgFile = dir.resolve(CONFIG_FILE);
    JsonNode c;
    try {
      c = JSON.readTree(cfgFile.toFile());
    } catch (IOException e) {
      throw new IOException(cfgFile + ": cannot read adapter config: " + e.getMessage(), e);
    }
    if (c == null || !"LORA".equals(text(c, "peft_type", cfgFile))) {
      throw new IOException(cfgFile + ": key \"peft_type\" must be \"LORA\"");
    }
    List<String> targets = new ArrayList<>();
    JsonNode t = c.get("target_modules");
    if (t != null && t.isArray()) t.forEach(x -> targets.add(x.asText()));
    else if (t != null && t.isTextual()) targets.add(t.asText());
    Config config;
    try {
      config = new Config(
          required(c, "r", cfgFile).asInt(), required(c, "lora_alpha", cfgFile).asDouble(),
          c.path("use_rslora").asBoolean(false), targets, c.path("task_type").asText(null),
          c.path("base_model_name_or_path").asText(null), c.path("lora_dropout").asDouble(0));
    } catch (IllegalArgumentException e) {
      throw new IOException(cfgFile + ": " + e.getMessage(), e);
    }
    Path weights = dir.resolve(WEIGHTS_FILE);
    Map<String, TensorBlob> tensors = SafeTensors.read(weights).tensors();
    List<String> toSave = new ArrayList<>();
    c.path("modules_to_save").forEach(x -> toSave.add(x.asText()));
    Map<String, TensorBlob[]> pairs = new TreeMap<>();
    Map<String, TensorBlob> saved = new TreeMap<>();
    for (Map.Entry<String, TensorBlob> e : tensors.entrySet()) {
      String key = e.getKey();
      boolean isA = key.endsWith(".lora_A.weight");
      if (key.startsWith(PREFIX) && toSave.stream().anyMatch(m -> key.startsWith(PREFIX + m + "."))) {
        saved.put(key.substring(PREFIX.length()), e.getValue());
        continue;
      }
      if (!key.startsWith(PREFIX) || !(isA || key.endsWith(".lora_B.weight"))) {
        throw new IOException(weights + ": unexpected tensor \"" + key + "\" (expected " + PREFIX
            + "<module>.lora_{A,B}.weight or a module listed in modules_to_save " + toSave + ")");
      }
      String module = key.substring(PREFIX.length(), key.length() - ".lora_A.weight".length());
      if (module.startsWith(BERT) && !wrapper(config.taskType(), module.substring(BERT.length())).isEmpty()) {
        module = module.substring(BERT.length()); // our module names are the encoder's own
      }
      TensorBlob v = e.getValue().dtype() == DType.F32 ? e.getValue()
          : TensorBlob.ofFloats(e.getValue().shape(), e.getValue().toFloats());
      pairs.computeIfAbsent(module, k -> new TensorBlob[2])[isA ? 0 : 1] = v;
    }
    Map<String, Pair> modules = new TreeMap<>();
    for (Map.Entry<String, TensorBlob[]> e : pairs.entrySet()) {
      TensorBlob[] ab = e.getValue();
      if (ab[0] == null || ab[1] == null) {
        throw new IOException(weights + ": module " + e.getKey() + " lacks lora_" + (ab[0] == null ? "A" : "B"));
      }
      try {
        modules.put(e.getKey(), new Pair(ab[0], ab[1]));
      } catch (IllegalArgumentException ex) {
        throw new IOException(weights + ": module " + e.getKey() + ": " + ex.getMessage(), ex);
      }
    }
    try {
      return new PeftAdapter(config, modules, saved);
    } catch (IllegalArgumentException ex) {
      throw new IOException(dir + ": " + ex.getMessage(), ex);
    }
  }

  /**
   * The plain-LoRA form of an adapter trained from an init that modified W0: per module
   * {@code A' = [A; A0]} (rows), {@code B' = [B, -B0]} (columns), r doubled and alpha scaled by 2
   * (by sqrt 2 with rsLoRA) so that the scaling, and hence {@code s(BA - B0 A0)}, is preserved
   * (PEFT {@code subtract_mutated_init}, reference section 8.4).
   */
  public static PeftAdapter subtractMutatedInit(PeftAdapter trained, Map<String, Pair> init) {
    Map<String, Pair> out = new TreeMap<>();
    for (Map.Entry<String, Pair> e : trained.modules().entrySet()) {
      Pair p0 = init.get(e.getKey());
      if (p0 == null) throw new IllegalArgumentException("no init factors for module " + e.getKey());
      Pair p = e.getValue();
      int r = p.rank();
      int in = (int) p.a().shape()[1];
      int outDim = (int) p.b().shape()[0];
      float[] a = p.a().toFloats(), a0 = p0.a().toFloats(), b = p.b().toFloats(), b0 = p0.b().toFloats();
      float[] a2 = new float[2 * r * in];
      System.arraycopy(a, 0, a2, 0, r * in);
      System.arraycopy(a0, 0, a2, r * in, r * in);
      float[] b2 = new float[outDim * 2 * r];
      for (int i = 0; i < outDim; i++) {
        for (int j = 0; j < r; j++) {
          b2[i * 2 * r + j] = b[i * r + j];
          b2[i * 2 * r + r + j] = -b0[i * r + j];
        }
      }
      out.put(e.getKey(), new Pair(
          TensorBlob.ofFloats(new long[] {2L * r, in}, a2), TensorBlob.ofFloats(new long[] {outDim, 2L * r}, b2)));
    }
    Config c = trained.config();
    double alpha = c.loraAlpha() * (c.useRslora() ? Math.sqrt(2) : 2);
    return new PeftAdapter(
        new Config(
            2 * c.r(),
            alpha,
            c.useRslora(),
            c.targetModules(),
            c.taskType(),
            c.baseModel(),
            c.loraDropout()),
        out,
        trained.savedModules());
  }

  /** Module names of {@link #savedModules} ({@code classifier} for {@code classifier.weight}). */
  public List<String> savedModuleNames() {
    return savedModules.keySet().stream().map(k -> k.substring(0, k.lastIndexOf('.'))).distinct().sorted().toList();
  }

  private static JsonNode required(JsonNode c, String key, Path file) throws IOException {
    JsonNode v = c.get(key);
    if (v == null || v.isNull()) throw new IOException(file + ": missing key \"" + key + "\"");
    return v;
  }

  private static String text(JsonNode c, String key, Path file) throws IOException {
    return required(c, key, file).asText();
  }
}
