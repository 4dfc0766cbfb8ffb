package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The architecture of a BERT-family encoder (post-LayerNorm, erf GELU, absolute positions), as HF
 * {@code config.json} states it. Either parsed from that file or inferred from the weights of an
 * ONNX export, which carries every size except the number of attention heads.
 *
 * @param vocabSize {@code vocab_size}: rows of {@code embeddings.word_embeddings.weight}
 * @param hiddenSize {@code hidden_size}: H
 * @param numLayers {@code num_hidden_layers}
 * @param numHeads {@code num_attention_heads}; H must divide by it
 * @param intermediateSize {@code intermediate_size}: width of the FFN
 * @param maxPositions {@code max_position_embeddings}: the longest sequence
 * @param typeVocabSize {@code type_vocab_size}: number of token types (segments)
 * @param layerNormEps {@code layer_norm_eps}
 */
public record BertConfig(
    int vocabSize,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int intermediateSize,
    int maxPositions,
    int typeVocabSize,
    double layerNormEps) {

  /** BERT's default {@code layer_norm_eps} (HF {@code BertConfig}). */
  public static final double DEFAULT_LAYER_NORM_EPS = 1e-12;

  private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

  /** Checks that the sizes are positive and H divides by the number of heads. */
  public BertConfig {
    requirePositive("vocab_size", vocabSize);
    requirePositive("hidden_size", hiddenSize);
    requirePositive("num_hidden_layers", numLayers);
    requirePositive("num_attention_heads", numHeads);
    requirePositive("intermediate_size", intermediateSize);
    requirePositive("max_position_embeddings", maxPositions);
    requirePositive("type_vocab_size", typeVocabSize);
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
    }
    if (!(layerNormEps > 0 && layerNormEps < 1)) {
      throw new IllegalArgumentException("layer_norm_eps must be in (0,1), got " + layerNormEps);
    }
  }

  /** Width of one attention head, H / heads. */
  public int headDim() {
    return hiddenSize / numHeads;
  }

  /**
   * Infers the sizes from HF-named weights (an ONNX export has no config). The head count cannot be
   * read off the weights, so the caller passes it (a known-model table, see {@link
   * PretrainedModels}).
   */
  public static BertConfig fromWeights(Map<String, FloatTensor> weights, int numHeads, double layerNormEps) {
    FloatTensor word = require(weights, "embeddings.word_embeddings.weight");
    FloatTensor pos = require(weights, "embeddings.position_embeddings.weight");
    FloatTensor type = require(weights, "embeddings.token_type_embeddings.weight");
    FloatTensor inter = require(weights, "encoder.layer.0.intermediate.dense.weight");
    int layers = 0;
    for (String name : weights.keySet()) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
      }
    }
    return new BertConfig(
        Math.toIntExact(word.dim(0)),
        Math.toIntExact(word.dim(1)),
        layers,
        numHeads,
        Math.toIntExact(inter.dim(0)),
        Math.toIntExact(pos.dim(0)),
        Math.toIntExact(type.dim(0)),
        layerNormEps);
  }

  /**
   * Parses an HF {@code config.json}. Only BERT-style encoders are accepted: {@code model_type}
   * {@code bert} (or absent), {@code hidden_act} {@code gelu}, absolute position embeddings.
   */
  public static BertConfig fromJson(InputStream json) throws IOException {
    return fromJson(new ObjectMapper().readTree(json));
  }

  /** Parses the text of an HF {@code config.json}; see {@link #fromJson(InputStream)}. */
  public static BertConfig fromJson(String json) throws IOException {
    return fromJson(new ObjectMapper().readTree(json));
  }

  private static BertConfig fromJson(JsonNode c) {
    if (c == null || !c.isObject()) {
      throw new IllegalArgumentException("config.json must hold a JSON object");
    }
    requireText(c, "model_type", "bert");
    requireText(c, "hidden_act", "gelu");
    requireText(c, "position_embedding_type", "absolute");
    return new BertConfig(
        intField(c, "vocab_size"),
        intField(c, "hidden_size"),
        intField(c, "num_hidden_layers"),
        intField(c, "num_attention_heads"),
        intField(c, "intermediate_size"),
        intField(c, "max_position_embeddings"),
        c.has("type_vocab_size") ? intField(c, "type_vocab_size") : 2,
        c.has("layer_norm_eps") ? c.get("layer_norm_eps").asDouble() : DEFAULT_LAYER_NORM_EPS);
  }

  private static int intField(JsonNode c, String key) {
    JsonNode v = c.get(key);
    if (v == null || !v.canConvertToInt()) {
      throw new IllegalArgumentException("config.json: '" + key + "' must be an integer, got " + v);
    }
    return v.intValue();
  }

  private static void requireText(JsonNode c, String key, String allowed) {
    JsonNode v = c.get(key);
    if (v != null && !v.isNull() && !allowed.equals(v.asText())) {
      throw new IllegalArgumentException(
          "config.json: '" + key + "' is '" + v.asText() + "'; only '" + allowed + "' is supported");
    }
  }

  private static FloatTensor require(Map<String, FloatTensor> weights, String name) {
    FloatTensor t = weights.get(name);
    if (t == null || t.rank() != 2) {
      throw new IllegalArgumentException("cannot infer the BERT config: 2-D weight " + name + " is missing");
    }
    return t;
  }

  private static void requirePositive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got " + value);
    }
  }
}
