package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCheckpointTest {

  private static final Spec UNTIED = Spec.tiny(false);
  private static final Spec TIED = Spec.tiny(true);

  @Test
  void singleFileF32LoadsEveryTensorUnchanged(@TempDir Path dir) throws Exception {
    Map<String, float[]> written = LlamaFixture.write(dir, UNTIED, 1, DType.F32, false);
    LlamaCheckpoint ckpt = LlamaCheckpoint.load(dir);
    assertEquals(written.keySet(), ckpt.weights().keySet());
    written.forEach((name, v) -> assertArrayEquals(v, ckpt.weights().get(name).data(), name));
    assertEquals(List.copyOf(ckpt.config().tensorShapes().keySet()), List.copyOf(ckpt.weights().keySet()),
        "weights come in model order");
    assertTrue(ckpt.tokenizerJson().isEmpty());
  }

  @Test
  void shardedBf16CheckpointWidensExactly(@TempDir Path dir) throws Exception {
    Map<String, float[]> written = LlamaFixture.write(dir, TIED, 2, DType.BF16, true);
    LlamaFixture.writeTokenizer(dir, TIED);
    LlamaCheckpoint ckpt = LlamaCheckpoint.load(dir);
    assertEquals(written.keySet(), ckpt.weights().keySet());
    written.forEach((name, v) -> assertArrayEquals(v, ckpt.weights().get(name).data(), name));
    assertEquals(dir.resolve("tokenizer.json"), ckpt.tokenizerJson().orElseThrow());
  }

  @Test
  void missingTensorIsNamedWithTheFilesSearched(@TempDir Path dir) throws Exception {
    Map<String, float[]> w = LlamaFixture.randomWeights(UNTIED, 3);
    w.remove("model.layers.1.mlp.up_proj.weight");
    LlamaFixture.writeConfig(dir, LlamaFixture.config(UNTIED));
    LlamaFixture.writeTensors(dir.resolve("model.safetensors"), w, LlamaFixture.shapes(UNTIED), DType.F32);
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("missing tensor 'model.layers.1.mlp.up_proj.weight'") && m.contains("model.safetensors"), m);
  }

  @Test
  void misShapedAndUnexpectedTensorsAreNamedWithTheirFile(@TempDir Path dir) throws Exception {
    Map<String, float[]> w = LlamaFixture.randomWeights(UNTIED, 4);
    Map<String, long[]> shapes = new HashMap<>(LlamaFixture.shapes(UNTIED));
    shapes.put("model.layers.0.self_attn.k_proj.weight", new long[] {32, 16}); // transposed
    w.put("model.layers.0.self_attn.rotary_emb.inv_freq", new float[4]);      // tolerated buffer
    shapes.put("model.layers.0.self_attn.rotary_emb.inv_freq", new long[] {4});
    w.put("model.layers.0.self_attn.q_proj.bias", new float[32]);
    shapes.put("model.layers.0.self_attn.q_proj.bias", new long[] {32});
    LlamaFixture.writeConfig(dir, LlamaFixture.config(UNTIED));
    Path file = dir.resolve("model.safetensors");
    LlamaFixture.writeTensors(file, w, shapes, DType.F32);
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains(file + ": tensor 'model.layers.0.self_attn.k_proj.weight' has shape [32, 16], "
        + "config.json implies [16, 32]"), m);
    assertTrue(m.contains(file + ": unexpected tensor 'model.layers.0.self_attn.q_proj.bias'")
        && m.contains("model_type qwen2"), m);
    assertTrue(m.contains("2 problems") && !m.contains("inv_freq"), m);
  }

  @Test
  void tiedModelAcceptsACopiedLmHeadButNotADifferentOne(@TempDir Path dir) throws Exception {
    Map<String, float[]> w = LlamaFixture.randomWeights(TIED, 5);
    Map<String, long[]> shapes = new HashMap<>(LlamaFixture.shapes(TIED));
    shapes.put("lm_head.weight", new long[] {TIED.vocab(), TIED.hidden()});
    w.put("lm_head.weight", w.get("model.embed_tokens.weight"));
    LlamaFixture.writeConfig(dir, LlamaFixture.config(TIED));
    LlamaFixture.writeTensors(dir.resolve("model.safetensors"), w, shapes, DType.F32);
    assertEquals(LlamaFixture.shapes(TIED).keySet(), LlamaCheckpoint.load(dir).weights().keySet());

    w.put("lm_head.weight", new float[TIED.vocab() * TIED.hidden()]);
    LlamaFixture.writeTensors(dir.resolve("model.safetensors"), w, shapes, DType.F32);
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("'lm_head.weight' differs") && m.contains("tie_word_embeddings"), m);
  }

  @Test
  void shardIndexMustAgreeWithTheShards(@TempDir Path dir) throws Exception {
    LlamaFixture.write(dir, UNTIED, 6, DType.F32, true);
    Path index = dir.resolve("model.safetensors.index.json");
    String original = Files.readString(index);
    Files.writeString(index, original.replace("\"model.norm.weight\"", "\"model.norm2.weight\""));
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("model-00002-of-00002.safetensors: tensor 'model.norm.weight' is not mapped"), m);
    assertTrue(
        m.contains(
            "tensor 'model.norm2.weight' is listed in model.safetensors.index.json but not in the file"),
        m);

    Files.writeString(index, original.replace("model-00002-of-00002", "model-00003-of-00002"));
    m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("model-00003-of-00002.safetensors, which does not exist"), m);
  }

  @Test
  void badConfigKeyIsReportedBeforeAnyWeightIsRead(@TempDir Path dir) throws Exception {
    LlamaFixture.write(dir, UNTIED, 7, DType.F32, false);
    ObjectNode config = LlamaFixture.config(UNTIED);
    config.set("rope_scaling", new ObjectMapper().readTree("{\"rope_type\":\"yarn\",\"factor\":8.0}"));
    LlamaFixture.writeConfig(dir, config);
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains(dir.resolve("config.json") + ": 'rope_scaling'"), m);
  }

  @Test
  void pickleOnlyFolderIsRefusedSayingHowToConvert(@TempDir Path dir) throws Exception {
    LlamaFixture.writeConfig(dir, LlamaFixture.config(UNTIED));
    Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c'}); // a pickle is never opened
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("pytorch_model.bin") && m.contains("pickle checkpoints are not loaded")
        && m.contains("safe_serialization=True"), m);

    Files.delete(dir.resolve("pytorch_model.bin"));
    Files.writeString(dir.resolve("pytorch_model.bin.index.json"), "{\"weight_map\": {}}");
    m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("pytorch_model.bin.index.json") && m.contains("convert"), m);
  }

  @Test
  void qwen2ShardedBf16CheckpointLoadsItsBiasesAndNamesAMissingOne(@TempDir Path dir) throws Exception {
    Spec qwen2 = Spec.qwen2(true);
    Map<String, float[]> written = LlamaFixture.write(dir.resolve("ok"), qwen2, 8, DType.BF16, true);
    LlamaCheckpoint ckpt = LlamaCheckpoint.load(dir.resolve("ok"));
    assertEquals("qwen2", ckpt.config().modelType());
    written.forEach((name, v) -> assertArrayEquals(v, ckpt.weights().get(name).data(), name));
    assertEquals(List.copyOf(ckpt.config().tensorShapes().keySet()), List.copyOf(ckpt.weights().keySet()));
    assertEquals(2 * 3, ckpt.weights().keySet().stream().filter(n -> n.endsWith(".bias")).count());

    Map<String, float[]> w = LlamaFixture.randomWeights(qwen2, 9);
    w.remove("model.layers.1.self_attn.v_proj.bias");
    LlamaFixture.writeConfig(dir, LlamaFixture.config(qwen2));
    LlamaFixture.writeTensors(dir.resolve("model.safetensors"), w, LlamaFixture.shapes(qwen2), DType.F32);
    String m = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir)).getMessage();
    assertTrue(m.contains("missing tensor 'model.layers.1.self_attn.v_proj.bias' [16]"), m);
  }
}
