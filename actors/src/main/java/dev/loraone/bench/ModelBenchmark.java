package dev.loraone.bench;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.onnxruntime.OrtException;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.train.BertStepper;
import dev.loraone.worker.train.ClassificationBatch;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.PretrainedModels;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The cost of training and serving one BERT classifier on this machine, side by side from one run:
 * a LoRA step and a full-gradient step ({@link BertStepper}, what a worker runs per micro-batch),
 * their achieved GFLOP/s ({@link BertFlops}) against the float32 matmul peak measured in the same
 * run ({@link MatmulPeak}), DJL against ONNX Runtime inference ({@link InferenceLatency}), resident
 * memory after each stage ({@link Rss}), and native-memory flatness ({@link MemoryFlatness}).
 *
 * <pre>
 *   flatness check (small model, first: while the process is small, a leak cannot hide in freed pages)
 *   -> matmul peak -> load -> LoRA steps -> full-gradient steps -> matmul peak again
 *   -> random adapter B (so the merged export differs from the base) -> DJL, export, ONNX Runtime
 * </pre>
 *
 * <p>Inputs are synthetic: uniform token ids in [1, vocab) at full length (mask all ones, no
 * padding), random labels. Compute does not depend on the ids, and full length is what a padded
 * batch of long texts costs. Step times are medians (and minima) after warm-up; a LoRA step is
 * forward, backward and the read-out of the adapter gradients (the optimizer runs in {@code
 * lora-core}, elsewhere).
 */
public final class ModelBenchmark {
  /** Classes of the synthetic classification head. */
  static final int NUM_LABELS = 8;
  /** Standard deviation of the random adapter B set before inference. */
  private static final double INFERENCE_B_SCALE = 0.01;
  private static final String INPUT = "synthetic uniform token ids, full length (no padding)";

  /** The model measured: pretrained weights, or seeded random ones when {@code weights} is null. */
  public record Subject(String name, BertConfig config, Map<String, FloatTensor> weights) {
    /** sentence-transformers/all-MiniLM-L6-v2 from its bundled ONNX file. */
    public static Subject miniLm() {
      PretrainedModels.Pretrained p = PretrainedModels.load(PretrainedModels.Known.ALL_MINILM_L6_V2);
      return new Subject(p.model().id(), p.config(), p.weights());
    }

    BertLoraModel build(LoraConfig lora) {
      BertLoraModel.Head head = new BertLoraModel.Head.Classification(NUM_LABELS);
      return weights == null
          ? BertLoraModel.create(config, lora, head)
          : BertLoraModel.fromPretrained(config, lora, head, weights);
    }
  }

  /**
   * Sizes and repetitions; LoRA is rank {@code rank} on every Linear with alpha 2r and rsLoRA
   * scaling. {@code threads} sets libtorch's and ONNX Runtime's intra-op threads; 0 keeps
   * libtorch's default (and gives ONNX Runtime one per CPU).
   */
  public record Settings(int batch, int seq, int rank, int steps, int warmup, int inferenceRepeats,
      int[] matmulSizes, int matmulRepeats, int threads, long seed) {
    public Settings {
      require(batch >= 1 && seq >= 2, "batch must be >= 1 and seq >= 2, got " + batch + " x " + seq);
      require(rank >= 1, "rank must be >= 1, got " + rank);
      require(steps >= 1 && warmup >= 0, "steps must be >= 1 and warmup >= 0, got " + steps + ", " + warmup);
      require(inferenceRepeats >= 1 && matmulRepeats >= 1, "repeats must be >= 1");
      require(matmulSizes.length > 0 && Arrays.stream(matmulSizes).allMatch(n -> n >= 1), "matmul sizes must be >= 1");
      require(threads >= 0, "threads must be >= 0 (0: libtorch's default), got " + threads);
    }
  }

  /**
   * A GFLOP count under one convention and the rates it implies: at the median step time against
   * the median matmul peak, and at the best step time against the best matmul peak.
   */
  public record Rate(String convention, double gflop, double gflopPerSecond, double ofPeak, double bestGflopPerSecond,
      double bestOfPeak) {}

  /** Timed training steps of one mode. */
  public record Step(
      String mode,
      int steps,
      double medianSeconds,
      double minSeconds,
      double examplesPerSecond,
      List<Rate> rates) {}

  /** Resident memory after a stage of the run. */
  public record Stage(String stage, double rssMiB, double peakRssMiB) {}

  /**
   * One run's numbers. {@code matmul} is the larger of two measurements, before the training steps
   * and after them (their median peaks are {@code peakBefore} and {@code peakAfter}), so load that
   * comes and goes on a shared machine shows as a gap between the two. {@code flatness} is null
   * when skipped.
   */
  public record Report(String model, String input, int batch, int seq, int rank, int numLabels, int adaptedModules,
      int cpus, int torchThreads, MatmulPeak matmul, double peakBeforeGflopPerSecond, double peakAfterGflopPerSecond,
      BertFlops flops, Step lora, Step full, List<InferenceLatency.Row> inference, InferenceLatency.Export export,
      List<Stage> memory, MemoryFlatness.Result flatness) {}

  private ModelBenchmark() {}

  /**
   * Runs every measurement. The subject is loaded after the flatness check and its heap copy of the
   * weights released once they are in the model; {@code memory} null skips the flatness check.
   */
  public static Report run(Supplier<Subject> subjects, Settings s, MemoryFlatness.Config memory, PrintStream progress)
      throws IOException, OrtException {
    List<Stage> stages = new ArrayList<>();
    MemoryFlatness.Result flatness = null;
    if (memory != null) {
      progress.printf("memory flatness: %d LoRA steps of a small model ...%n", memory.steps());
      flatness = MemoryFlatness.run(memory, s.rank(), s.seed());
      stages.add(stage("after flatness check"));
    }
    int defaultThreads = torchThreads();
    if (s.threads() > 0) JniUtils.setNumThreads(s.threads());
    try {
      return measure(subjects, s, stages, flatness, progress);
    } finally {
      JniUtils.setNumThreads(defaultThreads);
    }
  }

  private static Report measure(
      Supplier<Subject> subjects,
      Settings s,
      List<Stage> stages,
      MemoryFlatness.Result flatness,
      PrintStream progress)
      throws IOException, OrtException {
    progress.printf("float32 matmul peak (n = %s) ...%n", Arrays.toString(s.matmulSizes()));
    MatmulPeak before = MatmulPeak.measure(s.matmulSizes(), s.matmulRepeats());

    progress.println("loading the model ...");
    Subject subject = subjects.get();
    String name = subject.name();
    BertConfig config = subject.config();
    require(s.seq() <= config.maxPositions(), "seq " + s.seq() + " exceeds max positions " + config.maxPositions());
    LoraConfig lora = LoraConfig.of(s.rank(), 2.0 * s.rank(), true, 0, s.seed(), LoraConfig.ALL_LINEAR);
    BertFlops flops = BertFlops.of(config, s.batch(), s.seq(), s.rank(), NUM_LABELS);
    ClassificationBatch batch = syntheticBatch(s.batch(), s.seq(), config.vocabSize(), s.seed());
    BertStepper built = new BertStepper(subject.build(lora));
    subject = null; // the weights now live in libtorch; let the heap copy go
    try (BertStepper stepper = built) {
      BertLoraModel model = stepper.model();
      stages.add(stage("model loaded"));
      progress.printf(
          "LoRA steps (%d warm-up + %d) at B=%d L=%d r=%d ...%n",
          s.warmup(), s.steps(), s.batch(), s.seq(), s.rank());
      double[] loraTimes = time(s.warmup(), s.steps(), i -> stepper.loraGradients(batch, i));
      stages.add(stage("after LoRA steps"));
      progress.printf("full-gradient steps (%d warm-up + %d) ...%n", s.warmup(), s.steps());
      double[] fullTimes = time(s.warmup(), s.steps(), i -> stepper.fullGradients(batch));
      stages.add(stage("after full-gradient steps"));
      progress.println("float32 matmul peak again ...");
      MatmulPeak after = MatmulPeak.measure(s.matmulSizes(), s.matmulRepeats());
      MatmulPeak peak = before.max(after);
      Step loraStep = step("lora", loraTimes, s.batch(), peak,
          new double[] {flops.conventionalStep(), flops.loraExactStep()}, "3x forward", "lora-exact");
      Step fullStep =
          step(
              "full-gradient",
              fullTimes,
              s.batch(),
              peak,
              new double[] {flops.conventionalStep()},
              "3x forward");

      randomizeB(model, s.seed());
      progress.printf("inference at B=1 and B=%d: DJL eager, ONNX export, ONNX Runtime ...%n", s.batch());
      ClassificationBatch single = syntheticBatch(1, s.seq(), config.vocabSize(), s.seed() + 1);
      int ortThreads = s.threads() > 0 ? s.threads() : Runtime.getRuntime().availableProcessors();
      InferenceLatency.Result inference =
          InferenceLatency.measure(model, List.of(single, batch), s.inferenceRepeats(), ortThreads);
      stages.add(stage("after export and ONNX Runtime"));
      return new Report(
          name,
          INPUT,
          s.batch(),
          s.seq(),
          s.rank(),
          NUM_LABELS,
          model.adaptedModules().size(),
          Runtime.getRuntime().availableProcessors(),
          JniUtils.getNumThreads(),
          peak,
          before.peakGflopPerSecond(),
          after.peakGflopPerSecond(),
          flops,
          loraStep,
          fullStep,
          inference.rows(),
          inference.export(),
          stages,
          flatness);
    }
  }

  /** {@code batch} rows of uniform ids in [1, vocab) at full length, random labels. */
  static ClassificationBatch syntheticBatch(int batch, int seq, int vocab, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    int n = batch * seq;
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) ids[i] = 1 + rng.nextInt(Math.max(1, vocab - 1));
    long[] mask = new long[n];
    Arrays.fill(mask, 1);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(NUM_LABELS);
    return new ClassificationBatch(0, new TokenBatch(batch, seq, ids, mask, new long[n]), labels);
  }

  private static double[] time(int warmup, int steps, IntFunction<?> work) {
    for (int i = 0; i < warmup; i++) work.apply(i);
    double[] t = new double[steps];
    for (int i = 0; i < steps; i++) {
      long t0 = System.nanoTime();
      work.apply(warmup + i);
      t[i] = (System.nanoTime() - t0) / 1e9;
    }
    return t;
  }

  private static Step step(
      String mode,
      double[] times,
      int batch,
      MatmulPeak peak,
      double[] flops,
      String... conventions) {
    double median = median(times);
    double min = Arrays.stream(times).min().orElseThrow();
    List<Rate> rates = new ArrayList<>();
    for (int i = 0; i < flops.length; i++) {
      double rate = flops[i] / median / 1e9;
      double best = flops[i] / min / 1e9;
      rates.add(new Rate(conventions[i], flops[i] / 1e9, rate, rate / peak.peakGflopPerSecond(), best,
          best / peak.bestPeakGflopPerSecond()));
    }
    return new Step(mode, times.length, median, min, batch / median, rates);
  }

  private static void randomizeB(BertLoraModel model, long seed) {
    SplittableRandom rng = new SplittableRandom(seed ^ 0x5bd1e995L);
    for (String m : model.adaptedModules()) {
      float[] b = new float[model.getLoraB(m).length];
      for (int i = 0; i < b.length; i++) b[i] = (float) (rng.nextGaussian() * INFERENCE_B_SCALE);
      model.setLoraB(m, b);
    }
  }

  /** libtorch's intra-op thread count; loads the engine first (JniUtils needs its native library). */
  static int torchThreads() {
    Engine.getEngine("PyTorch");
    return JniUtils.getNumThreads();
  }

  private static Stage stage(String name) {
    Rss r = Rss.read();
    return new Stage(name, r.rssMiB(), r.peakMiB());
  }

  static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  private static void require(boolean ok, String message) {
    if (!ok) throw new IllegalArgumentException(message);
  }
}
