package dev.loraone.cli;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.export.OnnxCausalLm;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.train.LlamaStepper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code loraone generate}: greedy decoding with the KV cache, either of an exported model in ONNX
 * Runtime ({@code --onnx}, {@link OnnxCausalLm}) or of a Llama-family checkpoint, optionally with a
 * PEFT adapter, in DJL ({@code --model}). Both encode {@code [BOS] prompt} and stop at config.json's
 * EOS ids; each prompt's completion is printed on its own line.
 */
@Command(
    name = "generate",
    description = "Greedy text generation with the KV cache: an exported model in ONNX Runtime (--onnx), or a"
        + " Llama-family checkpoint, optionally with a PEFT adapter, in DJL (--model).")
final class GenerateCommand implements Callable<Integer> {

  static final class Source {
    @Option(names = "--onnx", paramLabel = "DIR", required = true,
        description = "exported folder: model.onnx, config.json, tokenizer.json (loraone export or finetune)")
    Path onnx;

    @Option(names = "--model", paramLabel = "DIR", required = true,
        description = "Llama-family folder: config.json, *.safetensors, tokenizer.json")
    Path model;
  }

  @ArgGroup(multiplicity = "1") Source source;

  @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter folder, with --model") Path adapter;

  @Option(names = "--prompt", description = "a prompt (same as a positional one)") List<String> promptOptions =
      new ArrayList<>();

  @Parameters(arity = "0..*", paramLabel = "PROMPT", description = "prompts, each encoded as [BOS] prompt")
  List<String> prompts = new ArrayList<>();

  @Option(names = "--max-new-tokens", defaultValue = "64",
      description = "stop after this many tokens (default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Option(names = "--threads", defaultValue = "0",
      description = "ONNX Runtime intra-op threads with --onnx; 0 for its default (default: ${DEFAULT-VALUE})")
  int threads;

  @Override
  public Integer call() throws Exception {
    List<String> all = new ArrayList<>(promptOptions);
    all.addAll(prompts);
    if (all.isEmpty()) throw new IllegalArgumentException("no prompt: pass one or more as arguments");
    if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + ": expected >= 1");
    if (source.onnx != null) {
      if (adapter != null) {
        throw new IllegalArgumentException("--adapter goes with --model; an --onnx export has its adapter merged");
      }
      Path tokenizer = requireFiles(source.onnx, "--onnx", "model.onnx, config.json, tokenizer.json",
          Artifacts.ONNX_FILE, LlamaArtifacts.CONFIG_FILE, Artifacts.TOKENIZER_FILE);
      try (OnnxCausalLm lm = OnnxCausalLm.open(source.onnx, threads)) {
        for (String prompt : all) {
          print(() -> LlamaArtifacts.generate(lm, tokenizer, prompt, maxNewTokens));
        }
      }
      return 0;
    }
    Path tokenizer = requireFiles(source.model, "--model", "config.json, *.safetensors, tokenizer.json",
        LlamaArtifacts.CONFIG_FILE, Artifacts.TOKENIZER_FILE);
    if (adapter != null && !Files.isDirectory(adapter)) {
      throw new IllegalArgumentException("--adapter " + adapter + ": not a folder");
    }
    PeftAdapter a = adapter == null ? null : PeftAdapter.read(adapter);
    try (LlamaStepper loaded = LlamaArtifacts.load(source.model, a)) {
      for (String prompt : all) {
        print(() -> LlamaArtifacts.generate(loaded.model(), tokenizer, prompt, maxNewTokens));
      }
    }
    return 0;
  }

  /** Checks {@code dir} holds {@code files}, naming the first missing one; returns its tokenizer.json. */
  private static Path requireFiles(Path dir, String option, String expected, String... files) {
    for (String f : files) {
      if (!Files.isRegularFile(dir.resolve(f))) {
        throw new IllegalArgumentException(option + " " + dir + ": no " + f + " (expected a folder with " + expected
            + ")");
      }
    }
    return dir.resolve(Artifacts.TOKENIZER_FILE);
  }

  private interface Decode {
    LlamaArtifacts.Generation run() throws IOException;
  }

  private static void print(Decode decode) throws IOException {
    long t0 = System.nanoTime();
    LlamaArtifacts.Generation g = decode.run();
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.println(g.text());
    System.err.printf("%d prompt tokens, %d new tokens in %.2f s (%.1f tokens/s)%n", g.promptTokens(),
        g.tokens().length, s, g.tokens().length / s);
  }
}
