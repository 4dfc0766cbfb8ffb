package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An HF BERT folder written from the real MiniLM weights loads back to exactly those weights. */
class BertCheckpointTest {
  @TempDir Path dir;

  private static String configJson(int hidden) {
    return "{\"model_type\":\"bert\",\"hidden_act\":\"gelu\",\"vocab_size\":30522,\"hidden_size\":"
        + hidden
        + ",\"num_hidden_layers\":6,\"num_attention_heads\":12,\"intermediate_size\":1536,"
        + "\"max_position_embeddings\":512,"
        + "\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"architectures\":[\"BertForSequenceClassification\"]}";
  }

  private void writeCheckpoint(int configHidden) throws IOException {
    Map<String, TensorBlob> tensors = new LinkedHashMap<>();
    MiniLmFixture.pretrained()
        .weights()
        .forEach(
            (name, t) -> tensors.put("bert." + name, TensorBlob.ofFloats(t.shape(), t.data())));
    tensors.put("bert.pooler.dense.weight", TensorBlob.ofFloats(new long[] {2, 2}, new float[4]));
    tensors.put("classifier.weight", TensorBlob.ofFloats(new long[] {3, 384}, new float[3 * 384]));
    SafeTensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    Files.writeString(dir.resolve("config.json"), configJson(configHidden));
  }

  @Test
  void hfFolderLoadsTheSameWeightsAsTheOnnxImport() throws IOException {
    writeCheckpoint(384);
    BertCheckpoint c = BertCheckpoint.load(dir);
    assertEquals(MiniLmFixture.pretrained().config(), c.config());
    assertEquals(
        MiniLmFixture.pretrained().weights().keySet(),
        c.weights().keySet(),
        "bert. prefix stripped, pooler and head dropped");
    MiniLmFixture.pretrained().weights().forEach((name, t) -> assertEquals(t, c.weights().get(name), name));
    assertTrue(c.tokenizerJson().isEmpty());
  }

  @Test
  void configThatDisagreesWithTheTensorsNamesBothFiles() throws IOException {
    writeCheckpoint(768);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BertCheckpoint.load(dir));
    assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("config.json"), e.getMessage());
  }

  @Test
  void unsupportedConfigKeyIsNamed() throws IOException {
    writeCheckpoint(384);
    Files.writeString(dir.resolve("config.json"), configJson(384).replace("\"gelu\"", "\"relu\""));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BertCheckpoint.load(dir));
    assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("hidden_act"), e.getMessage());
  }

  @Test
  void folderWithoutWeightsIsRejected() throws IOException {
    Files.writeString(dir.resolve("config.json"), configJson(384));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BertCheckpoint.load(dir));
    assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
  }
}
