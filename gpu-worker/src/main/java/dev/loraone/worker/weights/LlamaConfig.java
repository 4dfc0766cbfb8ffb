package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The architecture of a Llama-family decoder (pre-RMSNorm, RoPE, grouped-query attention, SwiGLU),
 * as HF {@code config.json} states it for {@code model_type} {@code llama} (Llama 1-3, SmolLM,
 * TinyLlama), {@code mistral} or {@code qwen2} (Qwen2, Qwen2.5: the same decoder with biases on q, k
 * and v). Anything whose maths differs from that (yarn or longrope scaling, other biases, another
 * activation, attention dropout, quantized weights) is rejected with the key named, rather than
 * silently computed wrongly.
 *
 * <p>Shape legend of the weights it implies ({@link #tensorShapes()}), d = {@code headDim}:
 * <pre>
 *   model.embed_tokens.weight                 [V, H]
 *   model.layers.N.self_attn.q_proj.weight    [heads*d, H]    o_proj [H, heads*d]
 *   model.layers.N.self_attn.{k,v}_proj.weight [kvHeads*d, H]
 *   model.layers.N.self_attn.{q,k,v}_proj.bias [heads*d | kvHeads*d]   (qwen2 only)
 *   model.layers.N.mlp.{gate,up}_proj.weight  [I, H]          down_proj [H, I]
 *   model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight   [H]
 *   lm_head.weight                            [V, H]          (absent when tied to embed_tokens)
 * </pre>
 *
 * @param modelType {@code model_type}: {@code llama}, {@code mistral} or {@code qwen2}
 * @param vocabSize {@code vocab_size}: V
 * @param hiddenSize {@code hidden_size}: H
 * @param intermediateSize {@code intermediate_size}: I, the SwiGLU width
 * @param numLayers {@code num_hidden_layers}
 * @param numHeads {@code num_attention_heads}
 * @param numKvHeads {@code num_key_value_heads} (default: numHeads); numHeads must divide by it
 * @param headDim {@code head_dim} (default: H / numHeads); even, as RoPE rotates pairs
 * @param rmsNormEps {@code rms_norm_eps} (default 1e-6, HF {@code LlamaConfig})
 * @param ropeTheta {@code rope_theta} (default 10000)
 * @param ropeScaling {@code rope_scaling}: none, linear, llama3 or dynamic ({@link RopeScaling})
 * @param maxPositions {@code max_position_embeddings}: the longest sequence accepted (for dynamic
 *     rope scaling, at most its {@code original_max_position_embeddings})
 * @param tieWordEmbeddings {@code tie_word_embeddings} (default false): lm_head reuses embed_tokens
 * @param qkvBias q, k and v projections carry a bias (qwen2; o_proj and the MLP never do)
 * @param slidingWindow Mistral's {@code sliding_window} (Qwen2's only with {@code use_sliding_window}),
 *     0 for none; sequences longer than it are refused, since within it the window changes nothing
 * @param bosTokenId {@code bos_token_id}: the BOS a prompt starts with, if stated and the folder's tokenizer
 *     prepends it; read from a folder, a {@code tokenizer_config.json} beside config.json that says
 *     {@code "add_bos_token": false} or {@code "bos_token": null} (Qwen2's tokenizers add no BOS although
 *     config.json names one) leaves it empty
 * @param eosTokenIds {@code eos_token_id}, a number or a list (Llama 3), possibly empty
 */
public record LlamaConfig(
    String modelType,
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    double rmsNormEps,
    double ropeTheta,
    RopeScaling ropeScaling,
    int maxPositions,
    boolean tieWordEmbeddings,
    boolean qkvBias,
    int slidingWindow,
    OptionalLong bosTokenId,
    List<Long> eosTokenIds) {

  /** The {@code model_type} values read here. */
  public static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
  private static final String QWEN2 = "qwen2";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Checks sizes and the head arithmetic; names the config.json key at fault. */
  public LlamaConfig {
    if (!MODEL_TYPES.contains(modelType)) {
      throw new IllegalArgumentException("config.json: 'model_type' " + modelType + " is not one of " + MODEL_TYPES);
    }
    Objects.requireNonNull(ropeScaling, "ropeScaling");
    requirePositive("vocab_size", vocabSize);
    requirePositive("hidden_size", hiddenSize);
    requirePositive("intermediate_size", intermediateSize);
    requirePositive("num_hidden_layers", numLayers);
    requirePositive("num_attention_heads", numHeads);
    requirePositive("num_key_value_heads", numKvHeads);
    requirePositive("head_dim", headDim);
    requirePositive("max_position_embeddings", maxPositions);
    if (numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException("config.json: 'num_attention_heads' " + numHeads
          + " is not a multiple of 'num_key_value_heads' " + numKvHeads);
    }
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("config.json: 'head_dim' " + headDim + " must be even for rotary embeddings");
    }
    if (!(rmsNormEps > 0 && rmsNormEps < 1)) {
      throw new IllegalArgumentException("config.json: 'rms_norm_eps' must be in (0,1), got " + rmsNormEps);
    }
    if (!(ropeTheta > 0 && Double.isFinite(ropeTheta))) {
      throw new IllegalArgumentException("config.json: 'rope_theta' must be positive, got " + ropeTheta);
    }
    if (slidingWindow < 0) {
      throw new IllegalArgumentException("config.json: 'sliding_window' must be >= 0, got " + slidingWindow);
    }
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  /** A plain Llama (no biases, plain RoPE), as {@code model_type llama} with {@code rope_scaling} null. */
  public static LlamaConfig llama(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
      int numKvHeads, int headDim, double rmsNormEps, double ropeTheta, int maxPositions, boolean tieWordEmbeddings,
      OptionalLong bosTokenId, List<Long> eosTokenIds) {
    return new LlamaConfig("llama", vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
        headDim, rmsNormEps, ropeTheta, RopeScaling.NONE, maxPositions, tieWordEmbeddings, false, 0, bosTokenId,
        eosTokenIds);
  }

  /** The float32 RoPE inverse frequencies {@code [headDim/2]}, scaled per {@link #ropeScaling()}. */
  public float[] ropeInvFreq() {
    return ropeScaling.invFreq(headDim, ropeTheta);
  }

  /** Query heads per key/value head (the GQA group size). */
  public int groupSize() {
    return numHeads / numKvHeads;
  }

  /**
   * Every weight tensor this config implies, by HF name, in model order: embeddings, layers (each
   * bias after its weight), final norm, then {@code lm_head.weight} unless tied.
   */
  public Map<String, long[]> tensorShapes() {
    long h = hiddenSize;
    long q = (long) numHeads * headDim;
    long kv = (long) numKvHeads * headDim;
    long i = intermediateSize;
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("model.embed_tokens.weight", new long[] {vocabSize, h});
    for (int n = 0; n < numLayers; n++) {
      String p = "model.layers." + n + ".";
      for (String proj : List.of("q_proj", "k_proj", "v_proj")) {
        long out = proj.equals("q_proj") ? q : kv;
        shapes.put(p + "self_attn." + proj + ".weight", new long[] {out, h});
        if (qkvBias) {
          shapes.put(p + "self_attn." + proj + ".bias", new long[] {out});
        }
      }
      shapes.put(p + "self_attn.o_proj.weight", new long[] {h, q});
      shapes.put(p + "mlp.gate_proj.weight", new long[] {i, h});
      shapes.put(p + "mlp.up_proj.weight", new long[] {i, h});
      shapes.put(p + "mlp.down_proj.weight", new long[] {h, i});
      shapes.put(p + "input_layernorm.weight", new long[] {h});
      shapes.put(p + "post_attention_layernorm.weight", new long[] {h});
    }
    shapes.put("model.norm.weight", new long[] {h});
    if (!tieWordEmbeddings) {
      shapes.put("lm_head.weight", new long[] {vocabSize, h});
    }
    return shapes;
  }

  /** Reads an HF {@code config.json}; errors name the file and the key. */
  public static LlamaConfig fromJson(Path file) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
    try {
      LlamaConfig c = fromJson(root);
      return addsNoBos(file.resolveSibling("tokenizer_config.json")) ? c.withoutBos() : c;
    } catch (IllegalArgumentException e) {
      // The record's own checks say "config.json: ..."; name the actual file.
      String m = e.getMessage();
      throw new IllegalArgumentException(file + ": " + (m.startsWith("config.json: ") ? m.substring(13) : m), e);
    }
  }

  /** Whether {@code tokenizerConfig} (if present) says its tokenizer prepends no BOS. */
  private static boolean addsNoBos(Path tokenizerConfig) throws IOException {
    if (!Files.isRegularFile(tokenizerConfig)) return false;
    JsonNode t;
    try {
      t = JSON.readTree(Files.readAllBytes(tokenizerConfig));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(tokenizerConfig + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (t == null || !t.isObject()) return false;
    JsonNode add = t.get("add_bos_token");
    boolean noAdd = add != null && add.isBoolean() && !add.booleanValue();
    return noAdd || (t.has("bos_token") && t.get("bos_token").isNull());
  }

  /** This config with no BOS (its tokenizer prepends none). */
  public LlamaConfig withoutBos() {
    return new LlamaConfig(modelType, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
        headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositions, tieWordEmbeddings, qkvBias, slidingWindow,
        OptionalLong.empty(), eosTokenIds);
  }

  /** Parses the text of an HF {@code config.json}. */
  public static LlamaConfig fromJson(String json) throws IOException {
    return fromJson(JSON.readTree(json));
  }

  private static LlamaConfig fromJson(JsonNode c) {
    if (c == null || !c.isObject()) {
      throw new IllegalArgumentException("config.json: must hold a JSON object");
    }
    JsonNode type = c.get("model_type");
    if (type == null || !MODEL_TYPES.contains(type.asText())) {
      throw new IllegalArgumentException("config.json: 'model_type' is " + type
          + "; only " + MODEL_TYPES.stream().sorted().toList() + " (the Llama architecture) are supported");
    }
    String modelType = type.asText();
    boolean qwen2 = modelType.equals(QWEN2);
    requireAbsentOr(c, "hidden_act", "silu");
    if (!qwen2) { // HF Qwen2 always has q/k/v biases and no o_proj bias, whatever attention_bias says
      requireNotTrue(c, "attention_bias", "(q/k/v biases as in Qwen2 are read with model_type qwen2)");
    }
    requireNotTrue(c, "mlp_bias", "");
    if (present(c, "attention_dropout") && doubleField(c, "attention_dropout") != 0) {
      throw new IllegalArgumentException("config.json: 'attention_dropout' is " + c.get("attention_dropout")
          + "; only 0 is supported (LoRA dropout is lora.dropout)");
    }
    RopeScaling rope = RopeScaling.fromJson(c.get("rope_scaling"));
    if (c.has("quantization_config")) {
      throw new IllegalArgumentException("config.json: 'quantization_config' is present; quantized checkpoints "
          + "are not supported, use float32/float16/bfloat16 weights");
    }
    int hidden = intField(c, "hidden_size");
    int heads = intField(c, "num_attention_heads");
    int kvHeads = present(c, "num_key_value_heads") ? intField(c, "num_key_value_heads") : heads;
    int headDim;
    if (present(c, "head_dim")) {
      headDim = intField(c, "head_dim");
    } else if (heads > 0 && hidden % heads == 0) {
      headDim = hidden / heads;
    } else {
      throw new IllegalArgumentException("config.json: 'hidden_size' " + hidden
          + " is not a multiple of 'num_attention_heads' " + heads + " and no 'head_dim' is given");
    }
    return new LlamaConfig(
        modelType,
        intField(c, "vocab_size"),
        hidden,
        intField(c, "intermediate_size"),
        intField(c, "num_hidden_layers"),
        heads,
        kvHeads,
        headDim,
        present(c, "rms_norm_eps") ? doubleField(c, "rms_norm_eps") : 1e-6,
        present(c, "rope_theta") ? doubleField(c, "rope_theta") : 10000.0,
        rope,
        rope.capPositions(intField(c, "max_position_embeddings")),
        present(c, "tie_word_embeddings") && booleanField(c, "tie_word_embeddings"),
        qwen2,
        slidingWindow(c, qwen2),
        present(c, "bos_token_id") ? OptionalLong.of(longValue(c, "bos_token_id", c.get("bos_token_id")))
            : OptionalLong.empty(),
        eosIds(c));
  }

  /**
   * The window that limits attention, 0 for none: Mistral's {@code sliding_window}; Qwen2's only when
   * {@code use_sliding_window} is true or a {@code layer_types} entry is {@code sliding_attention}
   * (then on every layer, whatever {@code max_window_layers} says: a conservative limit, as sequences
   * within the window are computed exactly either way).
   */
  private static int slidingWindow(JsonNode c, boolean qwen2) {
    if (qwen2) {
      boolean sliding = present(c, "use_sliding_window") && booleanField(c, "use_sliding_window");
      JsonNode layerTypes = c.get("layer_types");
      if (layerTypes != null && layerTypes.isArray()) {
        for (JsonNode t : layerTypes) {
          sliding |= "sliding_attention".equals(t.asText());
        }
      }
      if (!sliding) {
        return 0; // HF ignores sliding_window then
      }
      if (!present(c, "sliding_window")) {
        throw new IllegalArgumentException("config.json: 'use_sliding_window' is true but 'sliding_window' is not set");
      }
    }
    return present(c, "sliding_window") ? intField(c, "sliding_window") : 0;
  }

  private static List<Long> eosIds(JsonNode c) {
    List<Long> ids = new ArrayList<>();
    JsonNode v = c.get("eos_token_id");
    if (v == null || v.isNull()) {
      return ids;
    }
    if (v.isArray()) {
      v.forEach(e -> ids.add(longValue(c, "eos_token_id", e)));
    } else {
      ids.add(longValue(c, "eos_token_id", v));
    }
    return ids;
  }

  private static boolean present(JsonNode c, String key) {
    return c.has(key) && !c.get(key).isNull();
  }

  private static int intField(JsonNode c, String key) {
    JsonNode v = c.get(key);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be an integer, got " + v);
    }
    return v.intValue();
  }

  private static long longValue(JsonNode c, String key, JsonNode v) {
    if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be an integer (or a list of them), got " + v);
    }
    return v.longValue();
  }

  private static double doubleField(JsonNode c, String key) {
    JsonNode v = c.get(key);
    if (!v.isNumber()) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be a number, got " + v);
    }
    return v.doubleValue();
  }

  private static boolean booleanField(JsonNode c, String key) {
    JsonNode v = c.get(key);
    if (!v.isBoolean()) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be true or false, got " + v);
    }
    return v.booleanValue();
  }

  private static void requireAbsentOr(JsonNode c, String key, String allowed) {
    if (present(c, key) && !allowed.equals(c.get(key).asText())) {
      throw new IllegalArgumentException("config.json: '" + key + "' is '" + c.get(key).asText()
          + "'; only '" + allowed + "' is supported");
    }
  }

  private static void requireNotTrue(JsonNode c, String key, String hint) {
    if (present(c, key) && c.get(key).asBoolean()) {
      throw new IllegalArgumentException("config.json: '" + key + "' is true; only bias-free projections are "
          + "supported here" + (hint.isEmpty() ? "" : " " + hint));
    }
  }

  private static void requirePositive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be positive, got " + value);
    }
  }
}
