package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaConfigTest {

  @Test
  void readsSizesAndAppliesHfDefaults() throws Exception {
    ObjectNode c = LlamaFixture.config(Spec.tiny(false));
    c.remove(List.of("num_key_value_heads", "rope_theta", "rms_norm_eps", "tie_word_embeddings", "rope_scaling"));
    LlamaConfig config = LlamaConfig.fromJson(c.toString());
    assertEquals(4, config.numKvHeads(), "num_key_value_heads defaults to num_attention_heads");
    assertEquals(10000.0, config.ropeTheta());
    assertEquals(1e-6, config.rmsNormEps());
    assertFalse(config.tieWordEmbeddings());
    assertEquals(8, config.headDim());
    assertEquals(OptionalLong.of(LlamaFixture.BOS), config.bosTokenId());
    assertEquals(List.of((long) LlamaFixture.EOS), config.eosTokenIds());
  }

  @Test
  void explicitHeadDimAndEosListAreHonoured() throws Exception {
    ObjectNode c = LlamaFixture.config(Spec.tiny(true));
    c.put("head_dim", 16);
    c.putArray("eos_token_id").add(2).add(7);
    c.put("model_type", "mistral");
    LlamaConfig config = LlamaConfig.fromJson(c.toString());
    assertEquals(16, config.headDim());
    assertEquals(List.of(2L, 7L), config.eosTokenIds());
    assertArrayEquals(new long[] {64, 32}, config.tensorShapes().get("model.layers.1.self_attn.q_proj.weight"));
    assertArrayEquals(new long[] {32, 64}, config.tensorShapes().get("model.layers.1.self_attn.o_proj.weight"));
    assertArrayEquals(new long[] {32, 32}, config.tensorShapes().get("model.layers.1.self_attn.k_proj.weight"));
    assertFalse(config.tensorShapes().containsKey("lm_head.weight"), "tied: no lm_head tensor");
  }

  /**
   * config.json files shaped like the published ones (keys and sizes as in each model's Hub
   * repository): every family the README lists is read, with its HF meaning.
   */
  @Test
  void publishedConfigsOfEachFamilyAreReadWithTheirMeaning() throws Exception {
    LlamaConfig llama32 = hfConfig("llama-3.2-1b");
    assertEquals(new RopeScaling(RopeScaling.Type.LLAMA3, 32, 1, 4, 8192), llama32.ropeScaling());
    assertEquals(List.of(128001L, 128008L, 128009L), llama32.eosTokenIds());
    assertTrue(llama32.tieWordEmbeddings() && !llama32.qkvBias() && llama32.groupSize() == 4);
    assertEquals(131072, llama32.maxPositions());

    LlamaConfig qwen = hfConfig("qwen2.5-0.5b");
    assertEquals("qwen2", qwen.modelType());
    assertTrue(qwen.qkvBias() && qwen.tieWordEmbeddings());
    assertEquals(0, qwen.slidingWindow(), "use_sliding_window false: sliding_window is ignored");
    assertEquals(64, qwen.headDim());
    assertArrayEquals(new long[] {128}, qwen.tensorShapes().get("model.layers.23.self_attn.k_proj.bias"));
    assertFalse(qwen.tensorShapes().containsKey("model.layers.0.self_attn.o_proj.bias"));

    LlamaConfig smol = hfConfig("smollm2-135m");
    assertTrue(smol.tieWordEmbeddings() && smol.groupSize() == 3 && smol.headDim() == 64);
    assertEquals(RopeScaling.NONE, smol.ropeScaling());
    assertEquals(List.of(0L), smol.eosTokenIds());

    LlamaConfig tiny = hfConfig("tinyllama-1.1b");
    assertTrue(!tiny.tieWordEmbeddings() && tiny.groupSize() == 8 && tiny.maxPositions() == 2048);

    LlamaConfig mistral = hfConfig("mistral-7b-v0.1");
    assertEquals(4096, mistral.slidingWindow(), "Mistral's window bounds the sequence length");
  }

  private static LlamaConfig hfConfig(String name) throws Exception {
    try (InputStream in = LlamaConfigTest.class.getResourceAsStream("/hf-configs/" + name + ".json")) {
      return LlamaConfig.fromJson(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @Test
  void ropeScalingLinearLlama3AndDynamicAreReadAndOtherTypesRefusedNamingTheValue(@TempDir Path dir)
      throws Exception {
    ObjectNode c = LlamaFixture.config(Spec.tiny(false));
    c.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
    LlamaConfig linear = LlamaConfig.fromJson(c.toString());
    float[] plain = LlamaConfig.fromJson(LlamaFixture.config(Spec.tiny(false)).toString()).ropeInvFreq();
    float[] scaled = linear.ropeInvFreq();
    for (int i = 0; i < plain.length; i++) {
      assertEquals(plain[i] / 2, scaled[i], 0f, "linear: inv_freq / factor, exactly");
    }
    c.putObject("rope_scaling").put("rope_type", "dynamic").put("factor", 2.0)
        .put("original_max_position_embeddings", 48);
    LlamaConfig dynamic = LlamaConfig.fromJson(c.toString());
    assertArrayEquals(plain, dynamic.ropeInvFreq(), 0f, "dynamic is plain RoPE up to the original length");
    assertEquals(48, dynamic.maxPositions(), "and sequences are capped there");
    c.putObject("rope_scaling").put("rope_type", "default");
    assertEquals(RopeScaling.NONE, LlamaConfig.fromJson(c.toString()).ropeScaling());

    for (String type : List.of("yarn", "longrope", "su", "mrope")) {
      String m = rejection(dir, x -> x.putObject("rope_scaling").put("rope_type", type).put("factor", 4.0),
          "rope_scaling");
      assertTrue(m.contains("'" + type + "'") && m.contains("llama3"), m);
    }
    assertRejected(dir, x -> x.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0)
        .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0), "rope_scaling.original_max_position_embeddings");
    assertRejected(dir, x -> x.putObject("rope_scaling").put("type", "linear"), "rope_scaling.factor");
    assertRejected(dir, x -> x.putObject("rope_scaling").put("type", "linear").put("factor", 0.5),
        "rope_scaling.factor");
    assertRejected(dir, x -> x.putObject("rope_scaling").put("factor", 2.0), "rope_scaling");
  }

  @Test
  void qwen2KeysAreReadOrRefusedNamingTheKey(@TempDir Path dir) throws Exception {
    ObjectNode q = LlamaFixture.config(Spec.qwen2(true));
    q.put("attention_bias", false); // not a Qwen2Config key: HF's Qwen2 has q/k/v biases regardless
    assertTrue(LlamaConfig.fromJson(q.toString()).qkvBias());
    assertRejected(dir, Spec.qwen2(true), c -> c.put("use_sliding_window", true).remove("sliding_window"),
        "sliding_window");
    assertRejected(dir, Spec.qwen2(true), c -> c.putObject("rope_scaling").put("type", "yarn").put("factor", 4.0)
        .put("original_max_position_embeddings", 32768), "rope_scaling");
    assertRejected(dir, Spec.qwen2(true), c -> c.put("use_sliding_window", "yes"), "use_sliding_window");
  }

  /**
   * A prompt starts with BOS only when the folder's tokenizer prepends one: Qwen2.5's tokenizer_config.json
   * has "bos_token": null (its config.json still names bos_token_id), Llama 2's "add_bos_token": true,
   * Llama 3's a BOS string; without a tokenizer_config.json config.json decides.
   */
  @Test
  void aTokenizerConfigThatAddsNoBosLeavesPromptsWithoutOne(@TempDir Path dir) throws Exception {
    java.nio.file.Files.writeString(dir.resolve("config.json"), LlamaFixture.config(Spec.qwen2(true)).toString());
    assertEquals(OptionalLong.of(LlamaFixture.BOS), LlamaConfig.fromJson(dir.resolve("config.json")).bosTokenId());
    for (String says : List.of("{\"bos_token\": null, \"eos_token\": \"<|im_end|>\"}", "{\"add_bos_token\": false}")) {
      java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), says);
      assertEquals(OptionalLong.empty(), LlamaConfig.fromJson(dir.resolve("config.json")).bosTokenId(), says);
    }
    for (String says : List.of("{\"bos_token\": \"<|begin_of_text|>\"}", "{\"add_bos_token\": true}")) {
      java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), says);
      assertEquals(OptionalLong.of(LlamaFixture.BOS), LlamaConfig.fromJson(dir.resolve("config.json")).bosTokenId(),
          says);
    }
    java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), "{oops");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaConfig.fromJson(dir.resolve("config.json")));
    assertTrue(e.getMessage().contains("tokenizer_config.json: not valid JSON"), e.getMessage());
  }

  @Test
  void unsupportedKeysAreRejectedNamingConfigJsonAndTheKey(@TempDir Path dir) throws Exception {
    assertRejected(dir, c -> c.putObject("rope_scaling").put("type", "yarn").put("factor", 2.0), "rope_scaling");
    assertRejected(dir, c -> c.put("attention_dropout", 0.1), "attention_dropout");
    assertRejected(dir, c -> c.put("mlp_bias", true), "mlp_bias");
    assertRejected(dir, c -> c.put("model_type", "qwen3"), "model_type");
    assertRejected(dir, c -> c.put("model_type", "gpt2"), "model_type");
    assertRejected(dir, c -> c.remove("model_type"), "model_type");
    assertRejected(dir, c -> c.put("attention_bias", true), "attention_bias");
    assertRejected(dir, c -> c.put("hidden_act", "gelu"), "hidden_act");
    assertRejected(dir, c -> c.put("hidden_size", "32"), "hidden_size");
    assertRejected(dir, c -> c.put("num_key_value_heads", 3), "num_key_value_heads");
    assertRejected(dir, c -> c.remove("vocab_size"), "vocab_size");
  }

  private static void assertRejected(Path dir, Consumer<ObjectNode> edit, String key) throws Exception {
    rejection(dir, edit, key);
  }

  private static void assertRejected(Path dir, Spec spec, Consumer<ObjectNode> edit, String key) throws Exception {
    rejection(dir, spec, edit, key);
  }

  private static String rejection(Path dir, Consumer<ObjectNode> edit, String key) throws Exception {
    return rejection(dir, Spec.tiny(false), edit, key);
  }

  /** The message of the refusal of {@code spec}'s config edited by {@code edit}; it names the file and the key. */
  private static String rejection(Path dir, Spec spec, Consumer<ObjectNode> edit, String key) throws Exception {
    ObjectNode c = LlamaFixture.config(spec);
    edit.accept(c);
    LlamaFixture.writeConfig(dir, c);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaConfig.fromJson(dir.resolve("config.json")));
    assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
    assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
    return e.getMessage();
  }
}
