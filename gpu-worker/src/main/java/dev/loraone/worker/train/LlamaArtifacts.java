package dev.loraone.worker.train;

import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.export.LlamaOnnxExporter;
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

/**
 * What a causal-LM fine-tune leaves behind, and the way back in: the counterpart of {@link
 * Artifacts} for Llama checkpoints.
 *
 * <ul>
 *   <li>{@code adapter/}: PEFT {@code adapter_model.safetensors} + {@code adapter_config.json}
 *       ({@code task_type CAUSAL_LM}); nothing else, as the base checkpoint carries the tokenizer.
 *   <li>{@code model/}: {@code model.onnx} (merged; {@link LlamaOnnxExporter}) + the checkpoint's
 *       {@code tokenizer.json} and {@code config.json}.
 * </ul>
 */
public final class LlamaArtifacts {
  public static final String CONFIG_FILE = "config.json";

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
   * Exports the merged model to {@code dir/model.onnx} and copies the checkpoint's tokenizer.json
   * and config.json beside it.
   */
  public static OnnxExport writeOnnx(LlamaLoraModel model, Path checkpointDir, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    OnnxExport export = new LlamaOnnxExporter().export(model, dir.resolve(Artifacts.ONNX_FILE));
    for (String f : List.of(Artifacts.TOKENIZER_FILE, CONFIG_FILE)) {
      Path from = checkpointDir.resolve(f);
      if (Files.isRegularFile(from)) {
        Files.copy(from, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return export;
  }

  /**
   * A greedy continuation: the new token ids (ending with EOS if produced) and their text, without
   * EOS and special tokens.
   */
  public record Generation(int promptTokens, int[] tokens, String text) {}

  /**
   * Greedy decoding with the KV cache ({@link LlamaLoraModel#generate}); the prompt is encoded as
   * in training ({@code [BOS] prompt}, no other special tokens), and generation stops at the
   * first EOS of config.json or after {@code maxNewTokens}.
   */
  public static Generation generate(LlamaLoraModel model, Path tokenizerJson, String prompt, int maxNewTokens)
      throws IOException {
    LlamaConfig c = model.config();
    try (TextTokenizer tok = TextTokenizer.fromPath(tokenizerJson, c.maxPositions())) {
      long[] text = tok.ids(prompt, false);
      int bos = c.bosTokenId().isPresent() ? 1 : 0;
      int[] ids = new int[bos + text.length];
      if (bos == 1) ids[0] = Math.toIntExact(c.bosTokenId().getAsLong());
      for (int i = 0; i < text.length; i++) ids[bos + i] = Math.toIntExact(text[i]);
      int eos = c.eosTokenIds().isEmpty() ? -1 : Math.toIntExact(c.eosTokenIds().get(0));
      int[] out = model.generate(ids, maxNewTokens, eos);
      int textTokens = out.length > 0 && out[out.length - 1] == eos ? out.length - 1 : out.length; // EOS is not text
      return new Generation(
          ids.length,
          out,
          tok.decode(Arrays.stream(out, 0, textTokens).asLongStream().toArray(), true));
    }
  }
}
