package dev.loraone.bench;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.runtime.CpuPolicy;
import dev.loraone.worker.train.LlamaStepper;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A Llama-family LoRA training step with activation checkpointing off and on, side by side from one
 * run: tokens/s, the share of the float32 matmul peak ({@link MatmulPeak}, measured here first) and
 * peak resident memory. Each variant runs in a child JVM of its own (same JVM options, classpath and
 * environment), since a process's peak RSS ({@code VmHWM}) never comes down.
 *
 * <pre>
 *   step FLOPs (3x-forward convention, as "6 N T"):  3 * forward
 *   forward = 2 * T * (P_layers + V*H + P_lora) + 4 * B * L^2 * (heads * d) * layers
 *             T = B*L tokens; P_layers: the projections' weights; V*H: the LM head (tied or not);
 *             P_lora = r*(in+out) per adapted module; the attention term is q k^T and p v over the full L x L
 * </pre>
 *
 * The convention counts the work a plain step needs, so the recomputation of the checkpointed step
 * (one more forward of the layers) shows as a lower share, not as extra useful work. It also counts
 * the weight gradients of the frozen base, which a LoRA step never computes; beside it, the FLOPs a
 * plain LoRA step executes (its matmuls, as a profile of libtorch shows them):
 *
 * <pre>
 *   executed = 4 T (P_layers + V*H) + 6 T P_lora + 3 * 4 B S (heads d) layers
 *              forward, then in backward dX through every frozen matrix, dX and dW of A and B, the four
 *              attention products; S = the (query, key) pairs the causal query blocks form
 *              ({@link LlamaLoraModel#attentionScorePairs}: 163,840 of L^2 = 262,144 at L = 512)
 * </pre>
 *
 * The matmul peak is measured before the children and again after them; the larger of the two is
 * the denominator, so load that eases during the run lowers the share rather than raising it. Inputs are
 * synthetic: uniform ids, no padding, every position labelled; a step is {@link
 * LlamaStepper#loraGradients} (forward, backward, read-out), LoRA rank r on all linear layers, alpha
 * 2r, rsLoRA, no dropout. Per variant: RSS after loading, and the peak during the steps ({@code
 * VmHWM} reset through {@code /proc/self/clear_refs} once the model is loaded, so the load's
 * temporaries do not count; the whole-process peak beside it).
 */
public final class CheckpointingBenchmark {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String RESULT = "RESULT ";

  private CheckpointingBenchmark() {}

  /** What to measure: an HF folder ({@code model}), else a random model of the named {@code shape}. */
  public record Settings(String model, String shape, int batch, int seq, int rank, int steps, int warmup,
      int[] matmulSizes, int matmulRepeats, long seed, boolean plainOnly, String profile, List<CpuPolicy> cpu) {
    public Settings {
      if (batch < 1 || seq < 2 || rank < 1 || steps < 1 || warmup < 0) {
        throw new IllegalArgumentException("need batch >= 1, seq >= 2, rank >= 1, steps >= 1, warmup >= 0");
      }
      cpu = cpu == null || cpu.isEmpty() ? List.of(CpuPolicy.current()) : List.copyOf(cpu);
    }
  }

  /** One variant's numbers, from its child JVM. */
  public record Variant(boolean checkpointing, String cpu, int steps, double medianSeconds, double minSeconds,
      double tokensPerSecond, double loadedRssMiB, double stepsPeakRssMiB, double processPeakRssMiB, double lossSum,
      double medianCpuSeconds) {}

  /** The run: model, sizes, FLOPs, the matmul peak and both variants. */
  public record Report(String model, long parameters, int layers, int batch, int seq, int rank, int adaptedModules,
      double stepGflop3x, String formula, double stepGflopExecuted, MatmulPeak matmul, List<Variant> variants,
      String loadBefore, String loadAfter, String peakCpu) {

    /** A variant's 3x-forward GFLOP/s over the median matmul peak. */
    public double ofPeak(Variant v) {
      return stepGflop3x / v.medianSeconds() / matmul.peakGflopPerSecond();
    }

    /** A variant's executed GFLOP/s (one plain step's matmuls, whatever it recomputes) over the median peak. */
    public double executedOfPeak(Variant v) {
      return stepGflopExecuted / v.medianSeconds() / matmul.peakGflopPerSecond();
    }

    /** The side-by-side table. */
    public String render() {
      StringBuilder b = new StringBuilder();
      b.append(String.format("%s: %,d parameters, %d layers; B = %d, L = %d, LoRA r = %d on all %d projections%n",
          model, parameters, layers, batch, seq, rank, adaptedModules));
      b.append(String.format("float32 matmul peak %.1f GFLOP/s (median, the larger of before and after the steps;"
          + " best %.1f); step %.1f GFLOP = %s; executed by a plain LoRA step (no base dW) %.1f GFLOP%n",
          matmul.peakGflopPerSecond(), matmul.bestPeakGflopPerSecond(), stepGflop3x, formula, stepGflopExecuted));
      b.append(String.format("matmul peak measured in the parent JVM (cpu %s); load average before: %s; after: %s%n%n",
          peakCpu, loadBefore, loadAfter));
      b.append(String.format("%-14s %-10s %9s %9s %9s %10s %9s %10s %12s %14s %14s  %s%n", "checkpointing", "cpu",
          "median s",
          "min s", "CPU s", "tokens/s", "% peak 3x", "% executed", "loaded MiB", "steps peak MiB", "proc peak MiB",
          "last loss sum"));
      for (Variant v : variants) {
        b.append(String.format("%-14s %-10s %9.3f %9.3f %9.3f %10.1f %8.1f%% %9.1f%% %12.0f %14.0f %14.0f  %s%n",
            v.checkpointing() ? "on" : "off", v.cpu(), v.medianSeconds(), v.minSeconds(), v.medianCpuSeconds(),
            v.tokensPerSecond(),
            100 * ofPeak(v), 100 * executedOfPeak(v), v.loadedRssMiB(), v.stepsPeakRssMiB(), v.processPeakRssMiB(),
            v.lossSum()));
      }
      return b.toString();
    }
  }

  /** Measures the matmul peak here, then each variant in a child JVM, off first. */
  public static Report run(Settings s, PrintStream progress) throws IOException, InterruptedException {
    String loadBefore = loadAverage();
    progress.printf("float32 matmul peak (n = %s) ...%n", Arrays.toString(s.matmulSizes()));
    MatmulPeak before = MatmulPeak.measure(s.matmulSizes(), s.matmulRepeats());
    List<Variant> variants = new ArrayList<>();
    for (boolean on : s.plainOnly() ? new boolean[] {false} : new boolean[] {false, true}) {
      for (CpuPolicy cpu : s.cpu()) {
        progress.printf("activation checkpointing %s, cpu %s: child JVM, %d warm-up + %d steps at B=%d L=%d r=%d"
            + " ...%n", on ? "on" : "off", cpu.label(), s.warmup(), s.steps(), s.batch(), s.seq(), s.rank());
        variants.add(child(s, on, cpu, progress));
      }
    }
    progress.println("float32 matmul peak again ...");
    MatmulPeak peak = before.max(MatmulPeak.measure(s.matmulSizes(), s.matmulRepeats()));
    LlamaConfig c = config(s);
    LoraConfig lora = lora(s);
    return new Report(s.model() != null ? s.model() : "random " + s.shape(), parameters(c), c.numLayers(), s.batch(),
        s.seq(), s.rank(), 7 * c.numLayers(), stepFlops(c, s.batch(), s.seq(), lora.rank()) / 1e9,
        "3 x (2 T (P_layers + V H + P_lora) + 4 B L^2 (heads d) layers)",
        executedFlops(c, s.batch(), s.seq(), lora.rank()) / 1e9, peak, variants, loadBefore, loadAverage(),
        CpuPolicy.current().label());
  }

  /** 3x-forward FLOPs of one LoRA step ({@code rank} on the seven projections of every layer). */
  static double stepFlops(LlamaConfig c, int batch, int seq, int rank) {
    double tokens = (double) batch * seq;
    double matmulParams = 0;
    for (long[] io : projections(c)) {
      matmulParams += c.numLayers() * (double) (io[0] * io[1] + (long) rank * (io[0] + io[1]));
    }
    matmulParams += (double) c.vocabSize() * c.hiddenSize();
    double attention = 4.0 * batch * seq * (double) seq * c.numHeads() * c.headDim() * c.numLayers();
    return 3 * (2 * tokens * matmulParams + attention);
  }

  /**
   * FLOPs a plain LoRA step executes ({@code rank} on the seven projections): the forward, then in
   * backward dX through each frozen matrix (LM head included), dX and dW of each A and B, and the
   * four attention products; no gradient of a base weight.
   */
  static double executedFlops(LlamaConfig c, int batch, int seq, int rank) {
    double tokens = (double) batch * seq;
    double base = (double) c.vocabSize() * c.hiddenSize();
    double lora = 0;
    for (long[] io : projections(c)) {
      base += c.numLayers() * (double) (io[0] * io[1]);
      lora += c.numLayers() * (double) rank * (io[0] + io[1]);
    }
    double pairs = LlamaLoraModel.attentionScorePairs(seq); // causal query blocks: not all seq * seq
    double attention = 4.0 * batch * pairs * c.numHeads() * c.headDim() * c.numLayers();
    return 4 * tokens * base + 6 * tokens * lora + 3 * attention;
  }

  /** (in, out) of q, k, v, o, gate, up, down. */
  private static List<long[]> projections(LlamaConfig c) {
    long h = c.hiddenSize();
    long q = (long) c.numHeads() * c.headDim();
    long kv = (long) c.numKvHeads() * c.headDim();
    long i = c.intermediateSize();
    return List.of(new long[] {h, q}, new long[] {h, kv}, new long[] {h, kv}, new long[] {q, h},
        new long[] {h, i}, new long[] {h, i}, new long[] {i, h});
  }

  private static long parameters(LlamaConfig c) {
    return c.tensorShapes().values().stream().mapToLong(x -> x.length == 1 ? x[0] : x[0] * x[1]).sum();
  }

  private static LlamaConfig config(Settings s) throws IOException {
    return s.model() != null ? LlamaConfig.fromJson(Path.of(s.model()).resolve("config.json"))
        : RandomLlama.Shape.named(s.shape()).config();
  }

  private static LoraConfig lora(Settings s) {
    return LoraConfig.of(s.rank(), 2.0 * s.rank(), true, 0, s.seed(), LoraConfig.ALL_LINEAR);
  }

  /** The profile's file; with more than one policy, each gets its own ({@code trace-dedicated.json}). */
  static String profileFile(Settings s, CpuPolicy cpu) {
    if (s.cpu().size() < 2) return s.profile();
    String f = s.profile();
    int dot = f.lastIndexOf('.');
    int slash = f.lastIndexOf('/');
    return dot > slash + 1 ? f.substring(0, dot) + "-" + cpu.label() + f.substring(dot) : f + "-" + cpu.label();
  }

  private static Variant child(Settings s, boolean on, CpuPolicy cpu, PrintStream progress)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CheckpointingBenchmark.class.getName(),
        String.valueOf(on), s.model() == null ? "-" : s.model(), s.shape(), String.valueOf(s.batch()),
        String.valueOf(s.seq()), String.valueOf(s.rank()), String.valueOf(s.steps()), String.valueOf(s.warmup()),
        String.valueOf(s.seed()), !on && s.profile() != null ? profileFile(s, cpu) : "-"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
    cpu.applyTo(pb.environment()); // libgomp and glibc read these when the child loads libtorch
    Process p = pb.start();
    Variant v = null;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = out.readLine()) != null; ) {
        if (line.startsWith(RESULT)) {
          v = JSON.readValue(line.substring(RESULT.length()), Variant.class);
        } else {
          progress.println(line);
        }
      }
    }
    int rc = p.waitFor();
    if (rc != 0 || v == null) {
      throw new IllegalStateException("the child JVM (checkpointing " + on + ", cpu " + cpu.label()
          + ") failed with exit code " + rc);
    }
    return v;
  }

  /**
   * The child: {@code checkpointing model|- shape batch seq rank steps warmup seed profile|-}; prints one
   * RESULT line. With a profile file, one more step after the timed ones runs under libtorch's profiler
   * (shapes recorded) and its Chrome trace is written there; it does not count in the figures.
   */
  public static void main(String[] args) throws IOException {
    boolean on = Boolean.parseBoolean(args[0]);
    Settings s = new Settings(args[1].equals("-") ? null : args[1], args[2], Integer.parseInt(args[3]),
        Integer.parseInt(args[4]), Integer.parseInt(args[5]), Integer.parseInt(args[6]), Integer.parseInt(args[7]),
        new int[] {1}, 1, Long.parseLong(args[8]), false, args[9].equals("-") ? null : args[9],
        List.of(CpuPolicy.current()));
    LlamaLoraModel model = s.model() != null
        ? LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(Path.of(s.model())), lora(s))
        : LlamaLoraModel.create(RandomLlama.Shape.named(s.shape()).config(), lora(s));
    CausalLmBatch batch = syntheticBatch(s.batch(), s.seq(), model.config().vocabSize(), s.seed());
    try (LlamaStepper stepper = new LlamaStepper(model, ai.djl.Device.cpu(), on)) {
      System.gc();
      double loaded = Rss.read().rssMiB();
      double loadPeak = resetPeak();
      double[] t = new double[s.steps()];
      double[] cpu = new double[s.steps()];
      double loss = 0;
      for (int i = 0; i < s.warmup() + s.steps(); i++) {
        long t0 = System.nanoTime();
        long c0 = processCpuNanos();
        loss = stepper.loraGradients(batch, i).lossSum();
        if (i >= s.warmup()) {
          t[i - s.warmup()] = (System.nanoTime() - t0) / 1e9;
          cpu[i - s.warmup()] = (processCpuNanos() - c0) / 1e9;
        }
      }
      double stepsPeak = Rss.read().peakMiB();
      if (s.profile() != null) {
        JniUtils.startProfile(false, true, false);
        stepper.loraGradients(batch, s.warmup() + s.steps());
        JniUtils.stopProfile(s.profile());
        System.err.println("profile of one more step written to " + s.profile());
      }
      double median = ModelBenchmark.median(t);
      Variant v = new Variant(on, CpuPolicy.current().label(), s.steps(), median, Arrays.stream(t).min().orElseThrow(),
          s.batch() * s.seq() / median, loaded, stepsPeak, Math.max(loadPeak, stepsPeak), loss,
          ModelBenchmark.median(cpu));
      System.out.println(RESULT + JSON.writeValueAsString(v));
    }
  }

  /** {@code batch} rows of uniform ids in [3, vocab), no padding, every position labelled. */
  static CausalLmBatch syntheticBatch(int batch, int seq, int vocab, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    int n = batch * seq;
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) ids[i] = 3 + rng.nextInt(vocab - 3);
    long[] mask = new long[n];
    Arrays.fill(mask, 1);
    return new CausalLmBatch(batch, seq, ids, mask, ids.clone());
  }

  /**
   * CPU time of this process, all threads (libtorch's included): steadier than wall time on a shared
   * machine, since time spent waiting for a core does not count.
   */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Resets VmHWM to the current RSS (Linux >= 4.0); returns the peak before the reset. */
  private static double resetPeak() {
    double before = Rss.read().peakMiB();
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    } catch (IOException | UnsupportedOperationException e) {
      System.err.println("cannot reset VmHWM (" + e.getMessage() + "): the steps' peak includes loading");
    }
    return before;
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
