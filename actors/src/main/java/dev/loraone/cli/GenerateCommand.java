package dev.loraone.cli;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.train.LlamaStepper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone generate}: greedy decoding (KV cache) with a Llama-family checkpoint and,
 * optionally, a PEFT adapter.
 */
@Command(
    name = "generate",
    description =
        "Greedy text generation with a Llama-family checkpoint (KV cache), optionally with a PEFT adapter.")
final class GenerateCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      required = true,
      description = "Llama-family folder: config.json, *.safetensors, tokenizer.json")
  Path model;

  @Option(names = "--adapter", description = "PEFT adapter folder (e.g. from loraone finetune)") Path adapter;

  @Option(
      names = "--prompt",
      required = true,
      description = "the prompt text (encoded as [BOS] prompt, as in fine-tuning)")
  String prompt;

  @Option(
      names = "--max-new-tokens",
      defaultValue = "64",
      description = "stop after this many tokens (default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Override
  public Integer call() throws Exception {
    Path tokenizer = model.resolve(Artifacts.TOKENIZER_FILE);
    if (!Files.isRegularFile(model.resolve(LlamaArtifacts.CONFIG_FILE)) || !Files.isRegularFile(tokenizer)) {
      throw new IllegalArgumentException(
          "--model "
              + model
              + ": expected a folder with config.json, *.safetensors and tokenizer.json");
    }
    if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + ": expected >= 1");
    if (adapter != null && !Files.isDirectory(adapter))
      throw new IllegalArgumentException("--adapter " + adapter + ": not a folder");
    PeftAdapter a = adapter == null ? null : PeftAdapter.read(adapter);
    try (LlamaStepper loaded = LlamaArtifacts.load(model, a)) {
      long t0 = System.nanoTime();
      LlamaArtifacts.Generation g = LlamaArtifacts.generate(loaded.model(), tokenizer, prompt, maxNewTokens);
      System.out.println(g.text());
      System.err.printf("%d prompt tokens, %d new tokens in %.2fs%n", g.promptTokens(), g.tokens().length,
          (System.nanoTime() - t0) / 1e9);
    }
    return 0;
  }
}
