package dev.loraone.bench;

import ai.djl.pytorch.jni.JniUtils;
import dev.loraone.worker.export.OnnxCausalLm;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.train.LlamaStepper;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Greedy generation speed of one Llama-family model in both engines, side by side from one run: DJL
 * ({@code LlamaLoraModel.generate}, its {@code KvCache}) and ONNX Runtime on the merged export
 * ({@link OnnxCausalLm}, the cache as inputs and outputs).
 *
 * <pre>
 *   prompt        P random ids in [3, V) (seeded), batch 1; no EOS stop, so every run makes N tokens
 *   t1, tN        wall time of generate(prompt, 1) and generate(prompt, N); medians over the repeats
 *   prefill ms    t1: the prompt's forward and the first token
 *   decode tok/s  (N - 1) / (tN - t1): one token per call through the cache
 *   overall tok/s N / tN
 * </pre>
 *
 * The engines alternate within each repeat, so both see the same background load; the load average
 * before and after is reported with them. Both must produce the same tokens (reported, not required:
 * a near-tie in a random model's logits may resolve differently in float32).
 */
public final class GenerationBenchmark {

  public record Settings(String modelDir, String shape, int promptTokens, int newTokens, int repeat, int threads,
      long seed) {
    public Settings {
      if (promptTokens < 1 || newTokens < 2 || repeat < 1 || threads < 0) {
        throw new IllegalArgumentException("need --prompt-tokens >= 1, --new-tokens >= 2, --repeat >= 1 and"
            + " --threads >= 0, got " + promptTokens + ", " + newTokens + ", " + repeat + ", " + threads);
      }
      if ((modelDir == null) == (shape == null)) {
        throw new IllegalArgumentException("give exactly one of --model DIR and --shape NAME");
      }
    }
  }

  public record Engine(String engine, double loadSeconds, double prefillMs, double decodeTokensPerSecond,
      double tokensPerSecond) {}

  public record Report(String model, long parameters, int promptTokens, int newTokens, int repeat, int cpus,
      int torchThreads, int ortThreads, double exportSeconds, double onnxMiB, List<Engine> engines,
      boolean sameTokens, double loadAverageBefore, double loadAverageAfter) {

    public String render() {
      StringBuilder b = new StringBuilder();
      b.append(String.format("greedy generation, %s (%.1f M parameters), batch 1, %d prompt tokens, %d new tokens,"
          + " median of %d%n", model, parameters / 1e6, promptTokens, newTokens, repeat));
      b.append(String.format("%d CPUs, libtorch intra-op threads %d, ONNX Runtime intra-op threads %d; load average"
          + " %.2f before, %.2f after%n", cpus, torchThreads, ortThreads, loadAverageBefore, loadAverageAfter));
      b.append(String.format("merged ONNX export (KV cache in/out) %.1f MiB in %.2f s%n%n", onnxMiB, exportSeconds));
      b.append(String.format("%-26s %8s %11s %14s %14s%n", "engine (KV cache)", "load s", "prefill ms",
          "decode tok/s", "overall tok/s"));
      for (Engine e : engines) {
        b.append(String.format("%-26s %8.2f %11.1f %14.1f %14.1f%n", e.engine(), e.loadSeconds(), e.prefillMs(),
            e.decodeTokensPerSecond(), e.tokensPerSecond()));
      }
      b.append(String.format("%nsame greedy tokens in both engines: %s%n", sameTokens));
      b.append("prefill = generate(prompt, 1); decode tok/s = (N - 1) / (t(N) - t(1)); overall = N / t(N)")
          .append(System.lineSeparator());
      return b.toString();
    }
  }

  private GenerationBenchmark() {}

  /** Runs the comparison; a random model of {@code shape} is written under {@code work}, as is the export. */
  public static Report run(Settings s, Path work, PrintStream log) throws IOException, ai.onnxruntime.OrtException {
    Files.createDirectories(work);
    Path dir;
    long parameters;
    String name;
    if (s.shape() != null) {
      RandomLlama.Shape shape = RandomLlama.Shape.named(s.shape());
      dir = work.resolve("model-" + s.shape());
      log.printf("writing a random %s checkpoint to %s ...%n", s.shape(), dir);
      RandomLlama.write(dir, shape, s.seed());
      parameters = shape.parameters();
      name = "random " + s.shape();
    } else {
      dir = Path.of(s.modelDir());
      parameters = 0;
      name = dir.toString();
    }
    int torchThreads = ModelBenchmark.torchThreads(); // loads the engine first
    if (s.threads() > 0) {
      JniUtils.setNumThreads(s.threads());
      torchThreads = s.threads();
    }
    int ortThreads = s.threads() > 0 ? s.threads() : torchThreads;
    double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    long t0 = System.nanoTime();
    try (LlamaStepper djl = LlamaArtifacts.load(dir, null)) {
      double djlLoad = seconds(t0);
      LlamaConfig c = djl.model().config();
      if (parameters == 0) {
        parameters = c.tensorShapes().values().stream().mapToLong(v -> v.length == 1 ? v[0] : v[0] * v[1]).sum();
      }
      int[] prompt = prompt(c.vocabSize(), s.promptTokens(), s.seed());
      log.printf("exporting the merged ONNX model ...%n");
      long e0 = System.nanoTime();
      OnnxExport export = LlamaArtifacts.writeOnnx(djl.model(), dir, work.resolve("onnx"));
      double exportSeconds = seconds(e0);
      long o0 = System.nanoTime();
      try (OnnxCausalLm ort = OnnxCausalLm.open(work.resolve("onnx"), ortThreads)) {
        double ortLoad = seconds(o0);
        int n = s.newTokens();
        Decoder djlDecode = k -> djl.model().generate(prompt, k, Set.of());
        Decoder ortDecode = k -> ort.generate(prompt, k, Set.of(), false).tokens();
        boolean same = Arrays.equals(djlDecode.run(n), ortDecode.run(n)); // also the warm-up
        double[][] djlTimes = new double[2][s.repeat()];
        double[][] ortTimes = new double[2][s.repeat()];
        for (int r = 0; r < s.repeat(); r++) {
          log.printf("repeat %d of %d%n", r + 1, s.repeat());
          time(djlDecode, n, djlTimes, r);
          time(ortDecode, n, ortTimes, r);
        }
        List<Engine> engines = new ArrayList<>();
        engines.add(engine("DJL (libtorch, eager)", djlLoad, djlTimes, n));
        engines.add(engine("ONNX Runtime (merged)", ortLoad, ortTimes, n));
        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return new Report(name, parameters, s.promptTokens(), n, s.repeat(), Runtime.getRuntime().availableProcessors(),
            torchThreads, ortThreads, exportSeconds, (export.modelBytes() + export.externalDataBytes()) / 1048576.0,
            engines, same, loadBefore, loadAfter);
      }
    }
  }

  @FunctionalInterface
  private interface Decoder {
    int[] run(int newTokens) throws ai.onnxruntime.OrtException;
  }

  private static void time(Decoder d, int n, double[][] into, int r) throws ai.onnxruntime.OrtException {
    long t0 = System.nanoTime();
    d.run(1);
    into[0][r] = seconds(t0);
    long t1 = System.nanoTime();
    d.run(n);
    into[1][r] = seconds(t1);
  }

  private static Engine engine(String name, double load, double[][] times, int n) {
    double first = median(times[0]);
    double all = median(times[1]);
    return new Engine(name, load, 1000 * first, (n - 1) / Math.max(all - first, 1e-9), n / all);
  }

  private static int[] prompt(int vocab, int length, long seed) {
    Random r = new Random(seed);
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) ids[i] = 3 + r.nextInt(vocab - 3);
    return ids;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }
}
