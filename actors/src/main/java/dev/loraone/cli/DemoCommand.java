package dev.loraone.cli;

import dev.loraone.data.Example;
import dev.loraone.data.Split;
import dev.loraone.data.WordNetSupersense;
import dev.loraone.worker.export.OnnxClassifier;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.TaskData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone demo}: the main job on an embedded default. Fine-tunes real all-MiniLM-L6-v2 on
 * the real WordNet supersense task (26 classes) with LoRA-One and with default LoRA under the same
 * budget, prints a side-by-side table, writes the adapters and the LoRA-One ONNX model, and
 * classifies held-out glosses with ONNX Runtime. Runs in one process (the actor pipeline will
 * take this job over); a few minutes on 2 cores.
 */
@Command(name = "demo", description = "Fine-tune MiniLM on WordNet supersense with LoRA-One and default LoRA, compare, export, classify.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--steps", defaultValue = "150", description = "optimizer steps per method (default: ${DEFAULT-VALUE})") int steps;
  @Option(names = "--seed", defaultValue = "0") long seed;
  @Option(names = "--out", defaultValue = "out/demo", description = "output folder (default: ${DEFAULT-VALUE})") Path out;

  @Override
  public Integer call() throws Exception {
    FinetuneConfig d = FinetuneConfig.defaults();
    List<String> methods = List.of("lora-one", "lora");
    List<FinetuneCommand.Outcome> outcomes = new ArrayList<>();
    long t0 = System.nanoTime();
    for (String init : methods) {
      FinetuneConfig cfg = new FinetuneConfig("minilm", TaskData.WORDNET, null, init, "adamw", d.rank(), d.alpha(), d.rslora(),
          d.targets(), d.dropout(), d.lr(), d.loraPlusRatio(), d.weightDecay(), d.lambda(), d.schedule(), d.warmup(),
          d.maxGradNorm(), steps, d.batch(), d.microBatch(), d.initBatch(), d.initIters(), d.gamma(), d.maxLength(),
          d.maxPerClass(), d.evalExamples(), Math.max(1, steps / 3), seed, d.onBadRecord(), d.initShards(), d.initMode(),
          d.qFactor(), d.niter());
      long ts = System.nanoTime();
      FinetuneCommand.Outcome o = FinetuneCommand.run(cfg, out.resolve(init), init.equals("lora-one"));
      outcomes.add(o);
      System.err.printf("[%s] done in %s%n", init, ProgressBar.time((System.nanoTime() - ts) / 1e9));
    }
    System.out.println();
    System.out.println("MiniLM (all-MiniLM-L6-v2) on WordNet 3.1 supersense, 26 classes; " + steps + " steps x " + d.batch()
        + " examples, r=" + d.rank() + " all-linear, alpha=" + d.alpha() + " (rsLoRA), lr " + d.lr() + ", seed " + seed);
    System.out.printf("%-10s %10s %10s %10s %10s  %s%n", "method", "accuracy", "eval loss", "init s", "train s", "adapter sha256");
    for (FinetuneCommand.Outcome o : outcomes) {
      System.out.printf("%-10s %10.4f %10.4f %10.1f %10.1f  %s%n", o.result().config().init(), o.result().finalEval().accuracy(),
          o.result().finalEval().loss(), o.result().initSeconds(), o.result().trainSeconds(), o.sha256().substring(0, 16));
    }
    FinetuneCommand.Outcome best = outcomes.get(0);
    System.out.println();
    System.out.println("held-out glosses (WordNet test split) classified by ONNX Runtime with " + best.onnxDir().resolve(Artifacts.ONNX_FILE) + ":");
    List<Example.Classification> samples = heldOut(8);
    try (OnnxClassifier c = OnnxClassifier.open(best.onnxDir().resolve(Artifacts.ONNX_FILE),
        best.onnxDir().resolve(Artifacts.TOKENIZER_FILE), d.maxLength())) {
      List<OnnxClassifier.Prediction> preds = c.predict(samples.stream().map(Example.Classification::text).toList());
      int right = 0;
      for (int i = 0; i < samples.size(); i++) {
        OnnxClassifier.Prediction p = preds.get(i);
        boolean ok = p.labelName().equals(samples.get(i).label());
        right += ok ? 1 : 0;
        String text = samples.get(i).text();
        System.out.printf("  %s %-18s (%.2f) true %-18s %s%n", ok ? "+" : "-", p.labelName(), p.confidence(), samples.get(i).label(),
            text.length() > 70 ? text.substring(0, 67) + "..." : text);
      }
      System.out.printf("  %d of %d right%n", right, samples.size());
    }
    System.out.println();
    System.out.println("artefacts under " + out.toAbsolutePath() + " (adapters: PEFT format; model: ONNX + tokenizer.json)");
    System.out.println("total " + ProgressBar.time((System.nanoTime() - t0) / 1e9));
    return 0;
  }

  /** The first test-split gloss of each of {@code n} different classes: never seen in training or evaluation. */
  private static List<Example.Classification> heldOut(int n) {
    List<Example.Classification> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (Example.Classification e : WordNetSupersense.load(WordNetSupersense.Inventory.NOUNS).examples(Split.TEST)) {
      if (e.text().length() > 20 && seen.add(e.label())) out.add(e);
      if (out.size() == n) break;
    }
    return out;
  }
}
