package dev.loraone.cli;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.CausalLmFinetuner;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LlamaArtifacts;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The causal-LM branch of {@code loraone finetune}: {@code --model} names a Llama-family folder
 * and {@code --task} a prompt/completion file. Writes {@code dir/adapter} (PEFT, CAUSAL_LM) and,
 * if asked, {@code dir/model} (merged ONNX + tokenizer.json + config.json).
 */
final class FinetuneCausalLm {
  private FinetuneCausalLm() {}

  /** Runs one fine-tune with progress on stderr and the summary on stdout; returns the exit code. */
  static int run(FinetuneConfig cfg, Path dir, boolean onnx) throws IOException {
    try (CausalLmFinetuner f = new CausalLmFinetuner(cfg, new ConsoleListener(cfg))) {
      CausalLmFinetuner.Result r = f.run();
      Path adapterDir = dir.resolve("adapter");
      r.adapter().write(adapterDir);
      Path onnxDir = null;
      if (onnx) {
        onnxDir = dir.resolve("model");
        LlamaArtifacts.writeOnnx(f.model(), Path.of(cfg.model()), onnxDir);
      }
      CausalLmFinetuner.EvalReport first = r.evals().get(0);
      CausalLmFinetuner.EvalReport last = r.finalEval();
      System.out.printf("%nfinal: eval loss %.4f, perplexity %.3f (after init: %.4f, %.3f) on %d examples, %d tokens;"
          + " init %.1fs, training %.1fs%n", last.loss(), last.perplexity(), first.loss(), first.perplexity(),
          last.examples(), last.tokens(), r.initSeconds(), r.trainSeconds());
      System.out.println("adapter: " + adapterDir + " (sha256 "
          + FinetuneCommand.sha256(adapterDir.resolve(PeftAdapter.WEIGHTS_FILE)) + ")");
      if (onnxDir != null) System.out.println("onnx:    " + onnxDir.resolve(Artifacts.ONNX_FILE));
      System.out.println("try:     loraone generate --model " + cfg.model() + " --adapter " + adapterDir + " --prompt \"...\"");
      return 0;
    }
  }

  /** Phases as lines, steps as a progress bar, evaluations as lines (all on stderr). */
  private static final class ConsoleListener implements CausalLmFinetuner.Listener {
    private final FinetuneConfig cfg;
    private ProgressBar bar;

    ConsoleListener(FinetuneConfig cfg) {
      this.cfg = cfg;
    }

    @Override
    public void phase(String phase, String detail) {
      System.err.println("[" + cfg.init() + "] " + phase + ": " + detail);
      if (phase.equals("train")) bar = new ProgressBar(System.err, "[" + cfg.init() + "] train", cfg.steps());
    }

    @Override
    public void step(CausalLmFinetuner.StepReport r) {
      bar.update(r.step(), String.format("loss %.3f (%d tokens) lr %.1e |g| %.2f %.2fs/step", r.loss(), r.tokens(), r.lr(),
          r.gradNorm(), r.seconds()));
    }

    @Override
    public void evaluated(CausalLmFinetuner.EvalReport e) {
      System.err.printf("%n[%s] eval @%d: loss %.4f perplexity %.3f (%d examples, %d tokens)%n", cfg.init(), e.step(),
          e.loss(), e.perplexity(), e.examples(), e.tokens());
    }
  }
}
