package dev.loraone.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.lab.CompareResults.Method;
import dev.loraone.lab.CompareResults.Point;
import dev.loraone.lab.CompareResults.Report;
import dev.loraone.lab.CompareResults.Run;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.data.OnBadRecord;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.core.init.InitMethod;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.worker.train.LocalRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code loraone compare}: LoRA-One against its baselines at one budget (steps, batch, lr schedule,
 * eval set), several seeds each, plus LoRA-One's gradient-estimate size sweep and the agreement of
 * inits from disjoint gradient batches. Writes {@code compare.png} (mean curves), {@code compare.md}
 * (tables) and {@code compare.json} (every raw curve) into {@code --out}, rewritten after every
 * run so an interrupted study keeps what finished.
 *
 * <p>Runs go seed-major (every method at seed 0, then seed 1, ...) through the same
 * {@link LocalRun} as {@code loraone finetune}, with {@code loraone finetune}'s defaults for
 * everything not set here; a method differs from another only in init, optimizer, targets and head
 * warm-up. A sweep configuration equal to a main run is not run twice.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
    description = {
      "Compare LoRA-One with default LoRA, LoRA-One + Scaled AdamW, PiSSA, LoRA-GA",
      "and head-only training at one budget over several seeds (MiniLM on WordNet",
      "supersense by default); sweep LoRA-One's gradient-estimate size; measure how",
      "much inits from two disjoint gradient batches agree. Writes compare.png,",
      "compare.md and compare.json into --out."})
public final class CompareCommand implements Callable<Integer> {
  private static final FinetuneConfig D = FinetuneConfig.defaults();
  /** Attempts per configuration (see {@link #runOne}). */
  static final int ATTEMPTS = 3;

  /** The methods {@code --methods} can name, in table order. */
  static final List<Method> CATALOGUE = List.of(
      new Method("lora", "LoRA (default init)", "lora", "adamw", false, false, false),
      new Method("lora-one", "LoRA-One + AdamW", "lora-one", "adamw", false, false, false),
      new Method("lora-one-scaled", "LoRA-One + Scaled AdamW", "lora-one", "scaled-adamw", false, false, false),
      new Method("pissa", "PiSSA", "pissa", "adamw", false, false, false),
      new Method("lora-ga", "LoRA-GA", "lora-ga", "adamw", false, false, false),
      new Method("head-only", "head only (--targets none)", "lora", "adamw", true, false, false),
      new Method("lora-one-warm", "LoRA-One + AdamW, head warm-up", "lora-one", "adamw", false, true, false),
      new Method("lora-warm", "LoRA (default init), head warm-up", "lora", "adamw", false, true, false),
      new Method("head-only-fast", "head only, at the warm-up lr", "lora", "adamw", true, false, true));

  @Spec CommandSpec spec;

  @Option(names = "--methods", split = ",", paramLabel = "KEY",
      description = "Methods to run, from: lora, lora-one, lora-one-scaled, pissa, lora-ga, head-only, lora-one-warm, "
          + "lora-warm, head-only-fast (default: all).")
  List<String> methods = CATALOGUE.stream().map(Method::key).toList();

  @Option(names = "--seeds", split = ",", paramLabel = "N", description = "Seeds of every method (default: 0,1,2).")
  List<Long> seeds = List.of(0L, 1L, 2L);

  @Option(names = "--model", description = "minilm | bge-small (default: ${DEFAULT-VALUE})") String model = D.model();
  @Option(names = "--task", description = "wordnet-supersense | wordnet-supersense-all | FILE (default: ${DEFAULT-VALUE})") String task = D.task();
  @Option(names = "--steps", description = "optimizer steps per run (default: ${DEFAULT-VALUE})") int steps = 120;
  @Option(names = "--batch", description = "examples per step (default: ${DEFAULT-VALUE})") int batch = D.batch();
  @Option(names = "--lr", description = "peak learning rate of every method (default: ${DEFAULT-VALUE})") double lr = D.lr();
  @Option(names = "--schedule", description = "constant | linear | cosine (default: ${DEFAULT-VALUE})") String schedule = D.schedule();
  @Option(names = "--warmup", description = "lr warmup steps (default: ${DEFAULT-VALUE})") int warmup = D.warmup();
  @Option(names = "--init-batch", description = "LoRA-One/LoRA-GA gradient estimate: examples per batch (default: ${DEFAULT-VALUE})") int initBatch = D.initBatch();
  @Option(names = "--init-iters", description = "gradient estimate: batches (default: ${DEFAULT-VALUE})") int initIters = D.initIters();
  @Option(names = "--rank") int rank = D.rank();
  @Option(names = "--alpha") double alpha = D.alpha();
  @Option(names = "--targets", description = "LoRA targets of the adapter methods (default: ${DEFAULT-VALUE})") String targets = D.targets();
  @Option(names = "--max-per-class", description = "WordNet: examples per class and split (default: ${DEFAULT-VALUE})") int maxPerClass = D.maxPerClass();
  @Option(names = "--eval-examples", description = "evaluate on N validation examples spread evenly over the list "
      + "(every class); 0 = all (default: ${DEFAULT-VALUE})") int evalExamples = 0;
  @Option(names = "--eval-every", description = "evaluate every N steps and at the end (default: ${DEFAULT-VALUE})") int evalEvery = 40;
  @Option(names = "--head-warmup", description = "head-only steps before the init of the *-warm methods (default: ${DEFAULT-VALUE})") int headWarmup = 50;
  @Option(names = "--head-warmup-lr", description = "lr of the head warm-up (default: ${DEFAULT-VALUE})") double headWarmupLr = 2e-2;
  @Option(names = "--init-sweep", split = ",", paramLabel = "BxI",
      description = "LoRA-One gradient estimates to sweep, as init-batch x init-iters, or none (default: 8x1,8x8,8x64).")
  List<String> initSweep = List.of("8x1", "8x8", "8x64");
  @Option(names = "--sweep-seeds", split = ",", paramLabel = "N", description = "Seeds of the sweep (default: 0).")
  List<Long> sweepSeeds = List.of(0L);
  @Option(names = "--subspace-sizes", split = ",", paramLabel = "N",
      description = "Examples per gradient batch for the init-agreement study, or none (default: 8,64,512).")
  List<String> subspaceSizes = List.of("8", "64", "512");
  @Option(names = "--out", description = "output folder (default: ${DEFAULT-VALUE})") Path out = Path.of("docs", "results");
  @Option(names = "--name", description = "file name stem (default: ${DEFAULT-VALUE})") String name = "compare";

  @Override
  public Integer call() throws IOException {
    Plan plan = plan();
    Files.createDirectories(out);
    PrintWriter log = spec.commandLine().getErr();
    long start = System.nanoTime();
    Map<FinetuneConfig, Run> done = new LinkedHashMap<>();
    List<Run> main = new ArrayList<>();
    List<Run> sweep = new ArrayList<>();
    List<CompareResults.SubspaceRow> subspaces = new ArrayList<>();
    int total = plan.runs().size();
    int k = 0;
    for (PlannedRun p : plan.runs()) {
      k++;
      Run r = done.get(p.config());
      if (r != null) {
        log.printf("[%d/%d] %s seed %d: same configuration as an earlier run, reused%n", k, total, p.method().key(), p.seed());
        continue;
      }
      r = runOne(p, k, total, log, start);
      done.put(p.config(), r);
      (p.sweep() ? sweep : main).add(r);
      write(plan, main, sweep, subspaces, start);
    }
    if (plan.subspaceSizes().length > 0) {
      FinetuneConfig c = config(method("lora-one"), plan.subspaceSeed(), initBatch, initIters);
      subspaces.addAll(CompareSubspaces.run(c, plan.subspaceSizes(), s -> { log.println(s); log.flush(); }));
    }
    Report report = write(plan, main, sweep, subspaces, start);
    PrintWriter outw = spec.commandLine().getOut();
    CompareTable.printSummary(report, outw);
    outw.printf("wrote %s, %s, %s (%.1f min)%n", file(".md"), file(".png"), file(".json"), report.totalSeconds() / 60);
    outw.flush();
    return 0;
  }

  /** One planned fine-tune: a method at a seed; {@code sweep} runs feed only the init-batch sweep. */
  record PlannedRun(Method method, long seed, FinetuneConfig config, boolean sweep) {}

  record Plan(List<Method> methods, List<PlannedRun> runs, List<int[]> sweepSizes, int[] subspaceSizes, long subspaceSeed) {}

  /** Parses and validates every option (IllegalArgumentException naming it) before anything runs. */
  Plan plan() {
    if (methods.isEmpty()) throw new IllegalArgumentException("--methods: name at least one method");
    if (seeds.isEmpty() || seeds.stream().anyMatch(s -> s < 0)) throw new IllegalArgumentException("--seeds: expected seeds >= 0, got " + seeds);
    if (evalExamples < 0) throw new IllegalArgumentException("--eval-examples must be >= 0 (0 = all), got " + evalExamples);
    if (headWarmup < 1) throw new IllegalArgumentException("--head-warmup must be >= 1, got " + headWarmup);
    if (!name.matches("[A-Za-z0-9._-]+")) throw new IllegalArgumentException("--name '" + name + "': use letters, digits, . _ -");
    List<Method> chosen = new ArrayList<>();
    for (String key : methods) {
      Method m = method(key.trim());
      if (!chosen.contains(m)) chosen.add(m);
    }
    List<PlannedRun> runs = new ArrayList<>();
    for (long seed : seeds) {
      for (Method m : chosen) runs.add(new PlannedRun(m, seed, config(m, seed, initBatch, initIters), false));
    }
    List<int[]> sizes = new ArrayList<>();
    if (!isNone(initSweep)) {
      for (String s : initSweep) sizes.add(parseSize(s));
      if (sweepSeeds.isEmpty() || sweepSeeds.stream().anyMatch(s -> s < 0)) {
        throw new IllegalArgumentException("--sweep-seeds: expected seeds >= 0, got " + sweepSeeds);
      }
      for (long seed : sweepSeeds) {
        for (int[] s : sizes) runs.add(new PlannedRun(method("lora-one"), seed, config(method("lora-one"), seed, s[0], s[1]), true));
      }
    }
    int[] sub = isNone(subspaceSizes) ? new int[0] : subspaceSizes.stream().mapToInt(s -> parsePositive("--subspace-sizes", s)).toArray();
    return new Plan(List.copyOf(chosen), List.copyOf(runs), List.copyOf(sizes), sub, seeds.get(0));
  }

  /** {@code loraone finetune}'s config for this method, seed and gradient-estimate size. */
  FinetuneConfig config(Method m, long seed, int initBatch, int initIters) {
    int shards = initIters % D.initShards() == 0 ? D.initShards() : 1;
    String initMode = InitMethod.of(m.init()).randomizedSvd() ? D.initMode() : "exact";
    FinetuneConfig c = new FinetuneConfig(model, task, null, m.init(), m.optimizer(), rank, alpha, D.rslora(),
        m.headOnly() ? "none" : targets, D.dropout(), m.atHeadWarmupLr() ? headWarmupLr : lr, D.loraPlusRatio(), D.weightDecay(), D.lambda(), schedule, warmup,
        D.maxGradNorm(), steps, batch, D.microBatch(), initBatch, initIters, Double.NaN, D.maxLength(), maxPerClass,
        evalExamples == 0 ? Integer.MAX_VALUE : evalExamples, evalEvery, seed, OnBadRecord.FAIL, shards, initMode,
        D.qFactor(), D.niter());
    return m.warmHead() ? c.withHeadWarmup(headWarmup, headWarmupLr) : c;
  }

  static Method method(String key) {
    return CATALOGUE.stream().filter(m -> m.key().equals(key)).findFirst().orElseThrow(() -> new IllegalArgumentException(
        "--methods: unknown method '" + key + "'; expected one of " + CATALOGUE.stream().map(Method::key).toList()));
  }

  /**
   * Runs one configuration, up to {@link #ATTEMPTS} times: a non-finite gradient (seen rarely and
   * not reproducibly on this CPU build, where identical re-runs give identical results) stops an
   * attempt before any update, and the same configuration runs again from scratch. A run that fails
   * every attempt is recorded with its error and left out of the statistics.
   */
  private Run runOne(PlannedRun p, int k, int total, PrintWriter log, long start) throws IOException {
    String tag = String.format("[%d/%d] %s seed %d%s", k, total, p.method().key(), p.seed(),
        p.sweep() ? " init " + p.config().initBatch() + "x" + p.config().initIters() : "");
    long t0 = System.nanoTime();
    String failure = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        return attempt(p, tag + (attempt > 1 ? " (attempt " + attempt + ")" : ""), attempt, log, start);
      } catch (AdapterTrainer.DivergedException e) {
        failure = e.getMessage();
        log.printf("%s: attempt %d of %d stopped: %s%n", tag, attempt, ATTEMPTS, failure);
        log.flush();
      }
    }
    return new Run(p.method().key(), p.seed(), p.config().initBatch(), p.config().initIters(), 0, List.of(), List.of(), 0, 0,
        (System.nanoTime() - t0) / 1e9, ATTEMPTS, failure);
  }

  private Run attempt(PlannedRun p, String tag, int attempt, PrintWriter log, long start) throws IOException {
    log.println(tag + ": start");
    log.flush();
    long t0 = System.nanoTime();
    java.util.function.Consumer<JobEvent> listener = ev -> {
      if (ev instanceof JobEvent.Evaluated e) {
        log.printf(Locale.ROOT, "%s @%d: accuracy %.4f loss %.4f (%d examples)%n", tag, e.step(), e.accuracy(), e.loss(), e.examples());
        log.flush();
      }
    };
    LocalRun.Result r;
    try (LocalRun f = LocalRun.open(p.config(), "compare")) {
      r = f.run(listener);
    }
    double wall = (System.nanoTime() - t0) / 1e9;
    List<Point> evals = r.evals().stream().map(e -> new Point(e.step(), e.accuracy(), e.loss())).toList();
    List<Double> trainLoss = r.steps().stream().map(JobEvent.StepDone::loss).toList();
    log.printf(Locale.ROOT, "%s: done in %.0f s (init %.1f s, train+eval %.1f s); %.1f min elapsed%n", tag, wall, r.initSeconds(),
        r.trainSeconds(), (System.nanoTime() - start) / 60e9);
    log.flush();
    return new Run(p.method().key(), p.seed(), p.config().initBatch(), p.config().initIters(), r.finalEval().examples(), evals,
        trainLoss, r.initSeconds(), r.trainSeconds(), wall, attempt, null);
  }

  private Report write(Plan plan, List<Run> main, List<Run> sweep, List<CompareResults.SubspaceRow> subspaces, long start)
      throws IOException {
    List<Run> forSweep = new ArrayList<>(main);
    forSweep.addAll(sweep);
    Report report = new Report(settings(plan, main), plan.methods(), List.copyOf(main),
        CompareResults.summarize(plan.methods(), main), CompareResults.sweep("lora-one", plan.sweepSizes(), forSweep),
        List.copyOf(subspaces), (System.nanoTime() - start) / 1e9);
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("settings", report.settings());
    doc.put("summaries", report.summaries());
    doc.put("sweep", report.sweep());
    doc.put("subspaces", report.subspaces());
    doc.put("runs", report.runs());
    doc.put("sweepRuns", sweep);
    doc.put("totalSeconds", report.totalSeconds());
    Files.writeString(file(".json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc) + "\n");
    Files.writeString(file(".md"), CompareTable.markdown(report, name));
    if (!report.summaries().isEmpty()) CompareChart.write(report.summaries(), report.settings(), file(".png"));
    return report;
  }

  private Map<String, Object> settings(Plan plan, List<Run> main) {
    Map<String, Object> s = new LinkedHashMap<>();
    List<String> args = spec.commandLine().getParseResult().originalArgs();
    s.put("command", "loraone " + (args.isEmpty() || !args.get(0).equals("compare") ? "compare " : "") + String.join(" ", args));
    s.put("model", model);
    s.put("task", task);
    s.put("maxPerClass", maxPerClass);
    s.put("steps", steps);
    s.put("batch", batch);
    s.put("microBatch", D.microBatch());
    s.put("lr", lr);
    s.put("schedule", schedule);
    s.put("warmup", warmup);
    s.put("rank", rank);
    s.put("alpha", alpha);
    s.put("rslora", D.rslora());
    s.put("targets", targets);
    s.put("initBatch", initBatch);
    s.put("initIters", initIters);
    s.put("initMode", D.initMode() + " (lora-ga: exact)");
    s.put("evalEvery", evalEvery);
    s.put("evalExamples", main.stream().filter(Run::ok).findFirst().map(r -> (Object) r.evalExamples())
        .orElse(evalExamples == 0 ? "all" : evalExamples));
    s.put("headWarmup", headWarmup);
    s.put("headWarmupLr", headWarmupLr);
    s.put("seeds", seeds);
    s.put("sweepSeeds", plan.sweepSizes().isEmpty() ? List.of() : sweepSeeds);
    s.put("subspaceSeed", plan.subspaceSeed());
    return s;
  }

  private Path file(String ext) {
    return out.resolve(name + ext);
  }

  private static boolean isNone(List<String> values) {
    return values.isEmpty() || (values.size() == 1 && values.get(0).trim().equalsIgnoreCase("none"));
  }

  private static int[] parseSize(String s) {
    String[] parts = s.trim().toLowerCase(Locale.ROOT).split("x");
    if (parts.length != 2) throw new IllegalArgumentException("--init-sweep '" + s + "': expected BATCHxITERS, e.g. 8x8");
    return new int[] {parsePositive("--init-sweep", parts[0]), parsePositive("--init-sweep", parts[1])};
  }

  private static int parsePositive(String option, String s) {
    try {
      int v = Integer.parseInt(s.trim());
      if (v >= 1) return v;
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(option + " '" + s + "': expected a positive integer");
  }

  static String describe(Method m) {
    return (m.headOnly() ? "head only" : m.init() + " / " + m.optimizer()) + (m.warmHead() ? " / head warm-up" : "")
        + (m.atHeadWarmupLr() ? " / lr = --head-warmup-lr" : "");
  }
}
