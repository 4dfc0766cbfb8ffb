package dev.loraone.worker.train;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.export.LlamaOnnxExporter;
import dev.loraone.worker.export.OnnxCausalLm;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

/**
 * What a causal-LM fine-tune leaves behind, and the way back in: the counterpart of {@link
 * Artifacts} for Llama checkpoints.
 *
 * <ul>
 *   <li>{@code adapter/}: PEFT {@code adapter_model.safetensors} + {@code adapter_config.json}
 *       ({@code task_type CAUSAL_LM}); nothing else, as the base checkpoint carries the tokenizer.
 *   <li>{@code model/}: {@code model.onnx} (merged, with its KV cache as inputs and outputs; {@link
 *       LlamaOnnxExporter}) + the checkpoint's {@code config.json}, {@code tokenizer.json} and, when it
 *       has them, {@code tokenizer_config.json} and {@code special_tokens_map.json}; its {@code
 *       generation_config.json}, or one written from config.json's BOS and EOS ids (greedy): the files
 *       ONNX Runtime decoders (HF optimum, onnxruntime-genai's builder) read beside the model.
 * </ul>
 */
public final class LlamaArtifacts {
  public static final String CONFIG_FILE = "config.json";
  public static final String GENERATION_CONFIG_FILE = "generation_config.json";
  private static final List<String> COPIED = List.of(Artifacts.TOKENIZER_FILE, CONFIG_FILE,
      "tokenizer_config.json", "special_tokens_map.json", GENERATION_CONFIG_FILE);

  private static final ObjectMapper JSON = new ObjectMapper();

  private LlamaArtifacts() {}

  /**
   * Builds the checkpoint's model with a PEFT adapter applied (adapters unmerged), or plain without
   * one ({@code adapter} null). The returned stepper owns the model's native memory.
   */
  public static LlamaStepper load(Path checkpointDir, PeftAdapter adapter) throws IOException {
    LlamaCheckpoint checkpoint = LlamaCheckpoint.load(checkpointDir);
    if (adapter == null) {
      return new LlamaStepper(LlamaLoraModel.fromCheckpoint(checkpoint, LoraConfig.none()));
    }
    PeftAdapter.Config c = adapter.config();
    if (!adapter.savedModules().isEmpty()) {
      throw new IllegalArgumentException("the adapter saves whole modules " + adapter.savedModuleNames()
          + " (modules_to_save), which a causal-LM checkpoint does not take");
    }
    LoraConfig lora =
        new LoraConfig(
            c.r(), c.loraAlpha(), c.useRslora(), 0.0, 0, List.copyOf(adapter.modules().keySet()));
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(checkpoint, lora);
    List<String> missing =
        adapter.modules().keySet().stream()
            .filter(m -> !model.adaptedModules().contains(m))
            .toList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("adapter modules " + missing + " do not exist in " + checkpointDir
          + " (expected names like model.layers.0.self_attn.q_proj)");
    }
    LlamaStepper stepper = new LlamaStepper(model);
    try {
      adapter.modules().forEach((m, p) -> {
        model.setLoraA(m, p.a().toFloats());
        model.setLoraB(m, p.b().toFloats());
      });
    } catch (RuntimeException e) {
      stepper.close();
      throw e;
    }
    return stepper;
  }

  /**
   * Exports the merged model to {@code dir/model.onnx} and copies the checkpoint's tokenizer and
   * config files beside it (the class comment lists them).
   */
  public static OnnxExport writeOnnx(LlamaLoraModel model, Path checkpointDir, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    OnnxExport export = new LlamaOnnxExporter().export(model, dir.resolve(Artifacts.ONNX_FILE));
    for (String f : COPIED) {
      Path from = checkpointDir.resolve(f);
      if (Files.isRegularFile(from)) {
        Files.copy(from, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    if (!Files.isRegularFile(checkpointDir.resolve(GENERATION_CONFIG_FILE))) {
      Files.writeString(dir.resolve(GENERATION_CONFIG_FILE), generationConfig(model.config()));
    }
    return export;
  }

  /** HF's {@code generation_config.json} for greedy decoding with the config's special ids. */
  static String generationConfig(LlamaConfig c) {
    ObjectNode g = JSON.createObjectNode();
    c.bosTokenId().ifPresent(id -> g.put("bos_token_id", id));
    if (c.eosTokenIds().size() == 1) {
      g.put("eos_token_id", c.eosTokenIds().get(0));
    } else if (!c.eosTokenIds().isEmpty()) {
      ArrayNode eos = g.putArray("eos_token_id");
      c.eosTokenIds().forEach(eos::add);
    }
    g.put("do_sample", false);
    g.put("max_length", c.maxPositions());
    return g.toPrettyString() + System.lineSeparator();
  }

  /**
   * A greedy continuation: the new token ids (ending with EOS if produced) and their text, without
   * EOS and special tokens.
   */
  public record Generation(int promptTokens, int[] tokens, String text) {}

  /**
   * Greedy decoding with the KV cache ({@link LlamaLoraModel#generate}); the prompt is encoded as
   * in training ({@code [BOS] prompt}, no other special tokens), and generation stops at the
   * first of config.json's EOS ids or after {@code maxNewTokens}.
   */
  public static Generation generate(LlamaLoraModel model, Path tokenizerJson, String prompt, int maxNewTokens)
      throws IOException {
    return generate(model.config(), tokenizerJson, prompt, ids -> model.generate(ids, maxNewTokens, eosIds(
        model.config())));
  }

  /** As {@link #generate(LlamaLoraModel, Path, String, int)}, with the exported model in ONNX Runtime. */
  public static Generation generate(OnnxCausalLm model, Path tokenizerJson, String prompt, int maxNewTokens)
      throws IOException {
    return generate(model.config(), tokenizerJson, prompt, ids -> {
      try {
        return model.generate(ids, maxNewTokens, eosIds(model.config()), false).tokens();
      } catch (OrtException e) {
        throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
      }
    });
  }

  /** config.json's EOS ids. */
  public static Set<Integer> eosIds(LlamaConfig c) {
    return c.eosTokenIds().stream().map(Math::toIntExact).collect(Collectors.toUnmodifiableSet());
  }

  /** {@code [BOS] prompt} as ids (BOS when config.json names one). */
  public static int[] promptIds(LlamaConfig c, TextTokenizer tok, String prompt) {
    long[] text = tok.ids(prompt, false);
    int bos = c.bosTokenId().isPresent() ? 1 : 0;
    int[] ids = new int[bos + text.length];
    if (bos == 1) ids[0] = Math.toIntExact(c.bosTokenId().getAsLong());
    for (int i = 0; i < text.length; i++) ids[bos + i] = Math.toIntExact(text[i]);
    return ids;
  }

  private static Generation generate(LlamaConfig c, Path tokenizerJson, String prompt, UnaryOperator<int[]> decode)
      throws IOException {
    try (TextTokenizer tok = TextTokenizer.fromPath(tokenizerJson, c.maxPositions())) {
      int[] ids = promptIds(c, tok, prompt);
      int[] out = decode.apply(ids);
      Set<Integer> eos = eosIds(c);
      int textTokens = out.length > 0 && eos.contains(out[out.length - 1]) ? out.length - 1 : out.length;
      return new Generation(
          ids.length,
          out,
          tok.decode(Arrays.stream(out, 0, textTokens).asLongStream().toArray(), true)); // EOS is not text
    }
  }
}
