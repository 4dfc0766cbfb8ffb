package dev.loraone.protocol.io;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeftAdapterTest {
  @TempDir Path dir;

  private static PeftAdapter.Pair pair(int out, int r, int in, float seed) {
    float[] a = new float[r * in];
    float[] b = new float[out * r];
    for (int i = 0; i < a.length; i++) a[i] = seed + i * 0.5f;
    for (int i = 0; i < b.length; i++) b[i] = seed - i * 0.25f;
    return new PeftAdapter.Pair(
        TensorBlob.ofFloats(new long[] {r, in}, a), TensorBlob.ofFloats(new long[] {out, r}, b));
  }

  private static PeftAdapter adapter() {
    return new PeftAdapter(
        new PeftAdapter.Config(
            2, 16, true, List.of("query", "value"), "FEATURE_EXTRACTION", "all-MiniLM-L6-v2", 0.0),
        Map.of(
            "encoder.layer.0.attention.self.query",
            pair(3, 2, 4, 1f),
            "encoder.layer.0.attention.self.value",
            pair(3, 2, 4, 2f)));
  }

  @Test
  void writeThenReadRestoresTheAdapter() throws IOException {
    adapter().write(dir);
    assertEquals(adapter(), PeftAdapter.read(dir));
  }

  @Test
  void filesUsePeftKeyNamesAndConfigFields() throws IOException {
    adapter().write(dir);
    Set<String> keys = SafeTensors.read(dir.resolve(PeftAdapter.WEIGHTS_FILE)).tensors().keySet();
    assertTrue(keys.contains("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight"), keys.toString());
    assertTrue(keys.contains("base_model.model.encoder.layer.0.attention.self.value.lora_B.weight"), keys.toString());
    JsonNode c = new ObjectMapper().readTree(dir.resolve(PeftAdapter.CONFIG_FILE).toFile());
    assertEquals("LORA", c.get("peft_type").asText());
    assertEquals(2, c.get("r").asInt());
    assertEquals(16.0, c.get("lora_alpha").asDouble());
    assertTrue(c.get("use_rslora").asBoolean());
    assertEquals("[\"query\",\"value\"]", c.get("target_modules").toString());
    assertEquals("FEATURE_EXTRACTION", c.get("task_type").asText());
  }

  @Test
  void savedModulesRoundTripAsModulesToSave() throws IOException {
    PeftAdapter a = adapter();
    PeftAdapter withHead = new PeftAdapter(a.config(), a.modules(), Map.of(
        "classifier.weight", TensorBlob.ofFloats(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}),
        "classifier.bias", TensorBlob.ofFloats(new long[] {2}, new float[] {-1, 1})));
    withHead.write(dir);
    JsonNode c = new ObjectMapper().readTree(dir.resolve(PeftAdapter.CONFIG_FILE).toFile());
    assertEquals("[\"classifier\"]", c.get("modules_to_save").toString());
    assertTrue(
        SafeTensors.read(dir.resolve(PeftAdapter.WEIGHTS_FILE))
            .tensors()
            .containsKey("base_model.model.classifier.weight"));
    assertEquals(withHead, PeftAdapter.read(dir));
  }

  /**
   * PEFT's rules for the three task types, as its source states them (PEFT cannot be installed here):
   * the saved key is {@code base_model.model.} + the module's path in the task's HF model class +
   * {@code .lora_A.weight}; a {@code BertForSequenceClassification} holds the encoder under {@code bert.},
   * a {@code BertModel} (FEATURE_EXTRACTION) and a {@code LlamaForCausalLM} (names from {@code model.}) add
   * nothing; {@code modules_to_save} tensors sit at the task model's top ({@code base_model.model.classifier.weight});
   * {@code target_modules} is the expanded list of name suffixes, never the list {@code ["all-linear"]}.
   */
  @Test
  void keysFollowPeftsModulePathsPerTaskTypeAndReadBackAsOurModuleNames() throws IOException {
    Map<String, PeftAdapter.Pair> bert = Map.of("encoder.layer.0.attention.self.query", pair(3, 2, 4, 1f),
        "encoder.layer.0.output.dense", pair(3, 2, 4, 2f));
    PeftAdapter cls =
        new PeftAdapter(
            new PeftAdapter.Config(
                2,
                16,
                true,
                PeftAdapter.targetModules(bert.keySet()),
                "SEQ_CLS",
                "sentence-transformers/all-MiniLM-L6-v2",
                0.0),
            bert,
            Map.of(
                "classifier.weight",
                TensorBlob.ofFloats(new long[] {2, 3}, new float[6]),
                "classifier.bias",
                TensorBlob.ofFloats(new long[] {2}, new float[2])));
    Path c = dir.resolve("cls");
    cls.write(c);
    Set<String> keys = SafeTensors.read(c.resolve(PeftAdapter.WEIGHTS_FILE)).tensors().keySet();
    assertEquals(Set.of("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight",
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.weight",
        "base_model.model.bert.encoder.layer.0.output.dense.lora_A.weight",
        "base_model.model.bert.encoder.layer.0.output.dense.lora_B.weight",
        "base_model.model.classifier.weight", "base_model.model.classifier.bias"), keys);
    JsonNode cfg = new ObjectMapper().readTree(c.resolve(PeftAdapter.CONFIG_FILE).toFile());
    assertEquals("[\"dense\",\"query\"]", cfg.get("target_modules").toString());
    assertEquals("[\"classifier\"]", cfg.get("modules_to_save").toString());
    assertEquals(cls, PeftAdapter.read(c), "read back under the encoder's own module names");

    Map<String, PeftAdapter.Pair> llama = Map.of("model.layers.0.self_attn.q_proj", pair(3, 2, 4, 1f));
    Path l = dir.resolve("llama");
    new PeftAdapter(new PeftAdapter.Config(2, 16, true, List.of("q_proj"), "CAUSAL_LM", "tiny", 0.0), llama).write(l);
    assertEquals(Set.of("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"),
        SafeTensors.read(l.resolve(PeftAdapter.WEIGHTS_FILE)).tensors().keySet());
    assertEquals(
        List.of("dense", "key", "query", "value"),
        PeftAdapter.targetModules(
            List.of(
                "encoder.layer.0.attention.self.query",
                "encoder.layer.0.attention.self.key",
                "encoder.layer.0.attention.self.value",
                "encoder.layer.0.attention.output.dense",
                "encoder.layer.0.intermediate.dense",
                "encoder.layer.0.output.dense")),
        "all-linear on BERT, expanded as PEFT saves it");
  }

  @Test
  void missingConfigKeyIsNamed() throws IOException {
    adapter().write(dir);
    Path cfg = dir.resolve(PeftAdapter.CONFIG_FILE);
    Files.writeString(cfg, Files.readString(cfg).replace("\"lora_alpha\"", "\"alpha\""));
    IOException e = assertThrows(IOException.class, () -> PeftAdapter.read(dir));
    assertTrue(e.getMessage().contains("adapter_config.json") && e.getMessage().contains("lora_alpha"), e.getMessage());
  }

  @Test
  void subtractMutatedInitPreservesScaledDelta() {
    PeftAdapter trained = adapter();
    Map<String, PeftAdapter.Pair> init =
        Map.of(
            "encoder.layer.0.attention.self.query",
            pair(3, 2, 4, -1f),
            "encoder.layer.0.attention.self.value",
            pair(3, 2, 4, 0.5f));
    PeftAdapter merged = PeftAdapter.subtractMutatedInit(trained, init);
    assertEquals(4, merged.config().r());
    assertEquals(trained.config().scaling(), merged.config().scaling(), 1e-12);
    for (String m : trained.modules().keySet()) {
      double[] want = sub(prod(trained.modules().get(m)), prod(init.get(m)));
      double[] got = prod(merged.modules().get(m));
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i] * trained.config().scaling(), got[i] * merged.config().scaling(), 1e-4);
      }
    }
  }

  private static double[] prod(PeftAdapter.Pair p) {
    int r = p.rank();
    int in = (int) p.a().shape()[1];
    int out = (int) p.b().shape()[0];
    float[] a = p.a().toFloats();
    float[] b = p.b().toFloats();
    double[] w = new double[out * in];
    for (int i = 0; i < out; i++)
      for (int j = 0; j < in; j++)
        for (int k = 0; k < r; k++) w[i * in + j] += (double) b[i * r + k] * a[k * in + j];
    return w;
  }

  private static double[] sub(double[] x, double[] y) {
    double[] z = new double[x.length];
    for (int i = 0; i < x.length; i++) z[i] = x[i] - y[i];
    return z;
  }
}
