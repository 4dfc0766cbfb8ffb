package dev.loraone.cli;

import dev.loraone.data.OnBadRecord;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.CausalLmFinetuner;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.Finetuner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone finetune}: the single-process fine-tune (no actors) of a pretrained BERT-family
 * model on a classification task, then PEFT export. The reference the actor pipeline reproduces.
 */
@Command(name = "finetune", description = "Fine-tune a pretrained model in one process: gradient estimate, init, training, evaluation, export.")
final class FinetuneCommand implements Callable<Integer> {
  private static final FinetuneConfig D = FinetuneConfig.defaults();

  @Option(names = "--model", description = "minilm | bge-small | HF folder (config.json, model.safetensors, tokenizer.json) (default: ${DEFAULT-VALUE})") String model = D.model();
  @Option(names = "--task", description = "wordnet-supersense | wordnet-supersense-all | FILE (JSONL/CSV/TSV of text,label) (default: ${DEFAULT-VALUE})") String task = D.task();
  @Option(names = "--eval-file", description = "Evaluation FILE (default: a stable 10% of --task FILE)") Path evalFile;
  @Option(names = "--init", description = "lora-one | lora | gaussian | pissa | lora-ga (default: ${DEFAULT-VALUE})") String init = D.init();
  @Option(names = "--optimizer", description = "adamw | scaled-adamw | scaled-gd (default: ${DEFAULT-VALUE})") String optimizer = D.optimizer();
  @Option(names = "--rank") int rank = D.rank();
  @Option(names = "--alpha") double alpha = D.alpha();
  @Option(names = "--rslora", negatable = true, description = "scaling alpha/sqrt(r) (default: on)") boolean rslora = D.rslora();
  @Option(names = "--targets", description = "target modules, e.g. query,value or all-linear (default: ${DEFAULT-VALUE})") String targets = D.targets();
  @Option(names = "--dropout") double dropout = D.dropout();
  @Option(names = "--lr") double lr = D.lr();
  @Option(names = "--lora-plus-ratio") double loraPlusRatio = D.loraPlusRatio();
  @Option(names = "--weight-decay") double weightDecay = D.weightDecay();
  @Option(names = "--lambda", description = "Scaled AdamW ridge (default: ${DEFAULT-VALUE})") double lambda = D.lambda();
  @Option(names = "--schedule", description = "constant | linear | cosine (default: ${DEFAULT-VALUE})") String schedule = D.schedule();
  @Option(names = "--warmup", description = "warmup steps, capped at --steps (default: ${DEFAULT-VALUE})") int warmup = D.warmup();
  @Option(names = "--max-grad-norm") double maxGradNorm = D.maxGradNorm();
  @Option(names = "--steps") int steps = D.steps();
  @Option(names = "--batch", description = "examples per step (default: ${DEFAULT-VALUE})") int batch = D.batch();
  @Option(names = "--micro-batch", description = "examples per micro-batch (default: ${DEFAULT-VALUE})") int microBatch = D.microBatch();
  @Option(names = "--init-batch", description = "gradient estimate: examples per batch (default: ${DEFAULT-VALUE})") int initBatch = D.initBatch();
  @Option(names = "--init-iters", description = "gradient estimate: batches (default: ${DEFAULT-VALUE})") int initIters = D.initIters();
  @Option(names = "--init-shards", description = "canonical init shards; must divide --init-iters (default: ${DEFAULT-VALUE})") int initShards = D.initShards();
  @Option(names = "--init-mode", description = "randomized (Halko rounds over shard products, lora-one) | exact (default: ${DEFAULT-VALUE})") String initMode = D.initMode();
  @Option(names = "--q-factor", description = "randomized SVD: q = q-factor * rank (default: ${DEFAULT-VALUE})") int qFactor = D.qFactor();
  @Option(names = "--niter", description = "randomized SVD power iterations (default: ${DEFAULT-VALUE})") int niter = D.niter();
  @Option(names = "--head-warmup", description = "head-only steps before the gradient estimate and init, 0 = none (default: ${DEFAULT-VALUE})") int headWarmup = D.headWarmup();
  @Option(names = "--head-warmup-lr", description = "lr of the head warm-up (default: --lr)") double headWarmupLr = D.headWarmupLr();
  @Option(names = "--gamma", description = "stable_gamma (default: 128 for lora-one, 16 for lora-ga)") double gamma = D.gamma();
  @Option(names = "--max-length") int maxLength = D.maxLength();
  @Option(names = "--max-per-class", description = "WordNet: examples per class and split (default: ${DEFAULT-VALUE})") int maxPerClass = D.maxPerClass();
  @Option(names = "--eval-examples") int evalExamples = D.evalExamples();
  @Option(names = "--eval-every") int evalEvery = D.evalEvery();
  @Option(names = "--seed") long seed = D.seed();
  @Option(names = "--on-bad-record", description = "fail | skip (default: fail)") String onBadRecord = "fail";
  @Option(names = "--out", description = "output folder (default: out/finetune-<init>)") Path out;
  @Option(names = "--onnx", negatable = true, description = "also export the merged model to ONNX (default: on)") boolean onnx = true;

  @Override
  public Integer call() throws IOException {
    FinetuneConfig cfg = new FinetuneConfig(model, task, evalFile, init, optimizer, rank, alpha, rslora, targets, dropout, lr,
        loraPlusRatio, weightDecay, lambda, schedule, warmup, maxGradNorm, steps, batch, microBatch, initBatch, initIters,
        gamma, maxLength, maxPerClass, evalExamples, evalEvery, seed, parsePolicy(onBadRecord),
        initShards, init.equals("lora-ga") && initMode.equals("randomized") ? "exact" : initMode, qFactor, niter)
        .withHeadWarmup(headWarmup, headWarmupLr);
    Path dir = out != null ? out : Path.of("out", "finetune-" + init);
    if (CausalLmFinetuner.isLlamaFolder(model)) return FinetuneCausalLm.run(cfg, dir, onnx);
    Outcome o = run(cfg, dir, onnx);
    System.out.printf("%nfinal: accuracy %.4f, eval loss %.4f on %d examples; init %.1fs, training %.1fs%n",
        o.result.finalEval().accuracy(), o.result.finalEval().loss(), o.result.finalEval().examples(),
        o.result.initSeconds(), o.result.trainSeconds());
    System.out.println("adapter: " + o.adapterDir + " (sha256 " + o.sha256 + ")");
    if (o.onnxDir != null) System.out.println("onnx:    " + o.onnxDir.resolve(Artifacts.ONNX_FILE) + " (try: loraone infer --model-dir " + o.onnxDir + " \"a gloss\")");
    return 0;
  }

  record Outcome(Finetuner.Result result, Path adapterDir, String sha256, Path onnxDir) {}

  /** Runs one fine-tune with progress on stderr; writes {@code dir/adapter} and, if asked, {@code dir/model}. */
  static Outcome run(FinetuneConfig cfg, Path dir, boolean onnx) throws IOException {
    try (Finetuner f = new Finetuner(cfg, new ConsoleListener(cfg))) {
      Finetuner.Result r = f.run();
      Path adapterDir = dir.resolve("adapter");
      List<String> labels = r.task().labels().labels();
      Artifacts.writeAdapter(r.adapter(), labels, adapterDir);
      Path onnxDir = null;
      if (onnx) {
        onnxDir = dir.resolve("model");
        Artifacts.writeOnnx(f.model(), labels, f.source(), onnxDir);
      }
      return new Outcome(r, adapterDir, sha256(adapterDir.resolve(PeftAdapter.WEIGHTS_FILE)), onnxDir);
    }
  }

  static OnBadRecord parsePolicy(String s) {
    return switch (s) {
      case "fail" -> OnBadRecord.FAIL;
      case "skip" -> OnBadRecord.SKIP;
      default -> throw new IllegalArgumentException("--on-bad-record " + s + ": expected fail or skip");
    };
  }

  static String sha256(Path file) throws IOException {
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Phases as lines, steps as a progress bar, evaluations as lines (all on stderr). */
  static final class ConsoleListener implements Finetuner.Listener {
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
    public void step(Finetuner.StepReport r) {
      bar.update(r.step(), String.format("loss %.3f acc %.2f lr %.1e |g| %.2f %.2fs/step", r.loss(), r.accuracy(), r.lr(), r.gradNorm(), r.seconds()));
    }

    @Override
    public void evaluated(Finetuner.EvalReport e) {
      System.err.printf("%n[%s] eval @%d: accuracy %.4f loss %.4f (%d examples)%n", cfg.init(), e.step(), e.accuracy(), e.loss(), e.examples());
    }
  }
}
