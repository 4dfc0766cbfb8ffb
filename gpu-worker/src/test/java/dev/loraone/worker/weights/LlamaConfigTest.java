package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.worker.weights.LlamaFixture.Spec;
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

  @Test
  void unsupportedKeysAreRejectedNamingConfigJsonAndTheKey(@TempDir Path dir) throws Exception {
    assertRejected(dir, c -> c.putObject("rope_scaling").put("type", "linear").put("factor", 2.0), "rope_scaling");
    assertRejected(dir, c -> c.put("model_type", "gpt2"), "model_type");
    assertRejected(dir, c -> c.remove("model_type"), "model_type");
    assertRejected(dir, c -> c.put("attention_bias", true), "attention_bias");
    assertRejected(dir, c -> c.put("hidden_act", "gelu"), "hidden_act");
    assertRejected(dir, c -> c.put("hidden_size", "32"), "hidden_size");
    assertRejected(dir, c -> c.put("num_key_value_heads", 3), "num_key_value_heads");
    assertRejected(dir, c -> c.remove("vocab_size"), "vocab_size");
  }

  private static void assertRejected(Path dir, Consumer<ObjectNode> edit, String key) throws Exception {
    ObjectNode c = LlamaFixture.config(Spec.tiny(false));
    edit.accept(c);
    LlamaFixture.writeConfig(dir, c);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaConfig.fromJson(dir.resolve("config.json")));
    assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
    assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
  }
}
