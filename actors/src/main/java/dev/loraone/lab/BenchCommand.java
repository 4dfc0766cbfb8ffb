package dev.loraone.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.bench.CheckpointingBenchmark;
import dev.loraone.bench.GenerationBenchmark;
import dev.loraone.bench.InferenceLatency;
import dev.loraone.bench.MemoryFlatness;
import dev.loraone.bench.ModelBenchmark;
import dev.loraone.bench.SvdBenchmark;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone bench ...}: measurements printed side by side from one run. */
@Command(
    name = "bench",
    description = "Benchmarks, reported side by side from one run.",
    subcommands = {BenchCommand.Svd.class, BenchCommand.Model.class, BenchCommand.Pipeline.class})
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  @Command(
      name = "model",
      description =
          "MiniLM LoRA and full-gradient step time, GFLOP/s vs the matmul peak, DJL vs ONNX Runtime inference, RSS "
              + "and native-memory flatness.")
  static final class Model implements Runnable {
    @Option(
        names = "--steps",
        defaultValue = "5",
        description =
            "Timed training steps per mode; the median is reported. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(
        names = "--warmup",
        defaultValue = "2",
        description = "Untimed steps before them. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--batch", defaultValue = "16", description = "Batch size B. Default: ${DEFAULT-VALUE}.") int batch;

    @Option(
        names = "--seq",
        defaultValue = "128",
        description = "Sequence length L (synthetic ids, no padding). Default: ${DEFAULT-VALUE}.")
    int seq;

    @Option(
        names = "--rank",
        defaultValue = "8",
        description =
            "LoRA rank r on every Linear (alpha = 2r, rsLoRA). Default: ${DEFAULT-VALUE}.")
    int rank;

    @Option(
        names = "--repeat",
        defaultValue = "10",
        description = "Timed inference runs per engine and batch size. Default: ${DEFAULT-VALUE}.")
    int repeat;

    @Option(
        names = "--matmul-sizes",
        split = ",",
        defaultValue = "1024,1536,2048",
        description =
            "n of the square float32 matmuls that measure the peak. Default: ${DEFAULT-VALUE}.")
    int[] matmulSizes;

    @Option(
        names = "--memory-steps",
        defaultValue = "1000",
        description =
            "LoRA steps of the small model for the flatness check. Default: ${DEFAULT-VALUE}.")
    int memorySteps;

    @Option(names = "--skip-memory", description = "Skip the native-memory flatness check.") boolean skipMemory;

    @Option(
        names = "--threads",
        defaultValue = "0",
        description =
            "libtorch and ONNX Runtime intra-op threads; 0 keeps libtorch's default. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--seed", defaultValue = "7",

        description = "seed of the synthetic inputs (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--json", description = "Print one JSON document.") boolean json;

    @Option(names = "--model", paramLabel = "DIR", description = "A Llama-family HF folder: instead of MiniLM, its"
        + " LoRA step with train.activation-checkpointing off and on (tokens/s, % of the matmul peak, peak RSS),"
        + " each in a child JVM.") String llamaModel;

    @Option(names = "--shape", paramLabel = "NAME", description = "As --model, a random Llama of a named shape:"
        + " smollm2-135m or smol-like.") String llamaShape;

    @Option(names = "--generate", description = "With --model or --shape: greedy generation tokens/s, DJL vs ONNX"
        + " Runtime on the merged export, both with the KV cache (--repeat runs each), instead of the step.")
    boolean generate;

    @Option(names = "--prompt-tokens", defaultValue = "32", description = "With --generate: prompt length."
        + " Default: ${DEFAULT-VALUE}.") int promptTokens;

    @Option(names = "--new-tokens", defaultValue = "32", description = "With --generate: tokens generated per run."
        + " Default: ${DEFAULT-VALUE}.") int newTokens;

    @Option(names = "--out", defaultValue = "out/bench-generate", description = "With --generate: work folder (the"
        + " random checkpoint, the export). Default: ${DEFAULT-VALUE}.") java.nio.file.Path out;

    @Override
    public void run() {
      if (generate) {
        runGeneration();
        return;
      }
      if (llamaModel != null || llamaShape != null) {
        runLlama();
        return;
      }
      ModelBenchmark.Settings settings =
          new ModelBenchmark.Settings(
              batch, seq, rank, steps, warmup, repeat, matmulSizes, 5, threads, seed);
      MemoryFlatness.Config memory = skipMemory ? null : MemoryFlatness.Config.small(memorySteps);
      ModelBenchmark.Report r;
      try {
        r = ModelBenchmark.run(ModelBenchmark.Subject::miniLm, settings, memory, System.err);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (ai.onnxruntime.OrtException e) {
        throw new IllegalStateException(e);
      }
      if (json) {
        try {
          System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new IllegalStateException(e);
        }
        return;
      }
      print(r);
    }

    private void runGeneration() {
      GenerationBenchmark.Settings s = new GenerationBenchmark.Settings(llamaModel, llamaShape, promptTokens,
          newTokens, repeat, threads, seed);
      try {
        GenerationBenchmark.Report r = GenerationBenchmark.run(s, out, System.err);
        System.out.print(json ? new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r)
            + System.lineSeparator() : r.render());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (ai.onnxruntime.OrtException e) {
        throw new IllegalStateException(e);
      }
    }

    private void runLlama() {
      CheckpointingBenchmark.Settings s = new CheckpointingBenchmark.Settings(llamaModel,
          llamaShape == null ? "-" : llamaShape, batch, seq, rank, steps, warmup, matmulSizes, 5, seed);
      try {
        CheckpointingBenchmark.Report r = CheckpointingBenchmark.run(s, System.err);
        System.out.print(json ? new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r)
            + System.lineSeparator() : r.render());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    private static void print(ModelBenchmark.Report r) {
      System.out.printf("%s, classification head (%d classes), B = %d, L = %d, LoRA r = %d on all %d Linears; %s%n",
          r.model(), r.numLabels(), r.batch(), r.seq(), r.rank(), r.adaptedModules(), r.input());
      System.out.printf(
          "%d CPUs, libtorch intra-op threads %d, ONNX Runtime intra-op threads %d%n%n",
          r.cpus(), r.torchThreads(), r.export().ortThreads());
      System.out.print("float32 matmul (DJL/libtorch), median/best GFLOP/s:");
      for (int i = 0; i < r.matmul().sizes().size(); i++) {
        System.out.printf(
            "  n=%d %.1f/%.1f",
            r.matmul().sizes().get(i),
            r.matmul().medianGflopPerSecond().get(i),
            r.matmul().bestGflopPerSecond().get(i));
      }
      System.out.printf(
          "%n  -> peak %.1f (best %.1f) GFLOP/s; median peak before the steps %.1f, after %.1f%n",
          r.matmul().peakGflopPerSecond(),
          r.matmul().bestPeakGflopPerSecond(),
          r.peakBeforeGflopPerSecond(),
          r.peakAfterGflopPerSecond());
      System.out.printf("forward GFLOP: linear %.2f + attention %.2f + adapters %.2f + head %.4f = %.2f%n%n",
          r.flops().linearForward() / 1e9, r.flops().attentionForward() / 1e9, r.flops().adapterForward() / 1e9,
          r.flops().headForward() / 1e9, r.flops().forward() / 1e9);
      System.out.printf(
          "%-14s %6s %9s %8s %6s %-11s %7s %8s %8s %9s %8s%n",
          "training step",
          "steps",
          "median s",
          "min s",
          "ex/s",
          "FLOP count",
          "GFLOP",
          "GFLOP/s",
          "of peak",
          "best GF/s",
          "of best");
      for (ModelBenchmark.Step s : java.util.List.of(r.lora(), r.full())) {
        boolean first = true;
        for (ModelBenchmark.Rate rate : s.rates()) {
          if (first) {
            System.out.printf(
                "%-14s %6d %9.3f %8.3f %6.2f ",
                s.mode(), s.steps(), s.medianSeconds(), s.minSeconds(), s.examplesPerSecond());
          } else {
            System.out.printf("%-14s %6s %9s %8s %6s ", "", "", "", "", "");
          }
          System.out.printf(
              "%-11s %7.1f %8.1f %7.1f%% %9.1f %7.1f%%%n",
              rate.convention(),
              rate.gflop(),
              rate.gflopPerSecond(),
              100 * rate.ofPeak(),
              rate.bestGflopPerSecond(),
              100 * rate.bestOfPeak());
          first = false;
        }
      }
      System.out.println();
      System.out.printf("%-19s %6s %5s %11s %10s %10s%n", "inference", "batch", "seq", "median ms", "min ms", "seq/s");
      for (InferenceLatency.Row i : r.inference()) {
        System.out.printf(
            "%-19s %6d %5d %11.1f %10.1f %10.1f%n",
            i.engine(), i.batch(), i.seq(), i.medianMs(), i.minMs(), i.sequencesPerSecond());
      }
      InferenceLatency.Export e = r.export();
      System.out.printf(
          "merged ONNX export %.1f MiB in %.2f s, session created in %.2f s; max |logits ORT - DJL| = %.2e%n%n",
          e.modelMiB(), e.exportSeconds(), e.sessionSeconds(), e.logitsMaxAbsDiff());
      System.out.printf("%-30s %10s %14s%n", "process memory after", "RSS MiB", "peak RSS MiB");
      for (ModelBenchmark.Stage s : r.memory()) {
        System.out.printf("%-30s %10.0f %14.0f%n", s.stage(), s.rssMiB(), s.peakRssMiB());
      }
      MemoryFlatness.Result f = r.flatness();
      if (f != null) {
        System.out.printf(
            "%nnative-memory flatness, %s, B = %d, L = %d (%.1f ms/step):%n",
            f.model(), f.batch(), f.seq(), f.msPerStep());
        System.out.printf("  %-26s %10s %10s %10s%n", "", "step " + f.firstSteps(), "step " + f.steps(), "growth");
        System.out.printf(
            "  %-26s %10.1f %10.1f %+10.1f MiB%n",
            "RSS", f.rssFirstMiB(), f.rssEndMiB(), f.rssGrowthMiB());
        System.out.printf(
            "  %-26s %10.1f %10.1f %+10.1f MiB%n",
            "resident outside Java heap",
            f.outsideHeapFirstMiB(),
            f.outsideHeapEndMiB(),
            f.outsideHeapGrowthMiB());
      }
      System.out.println();
      System.out.println(
          "3x forward: backward counted as 2x forward (dX and dW); lora-exact: frozen base weights need dX only (see "
              + "BertFlops)");
      System.out.println(
          "of peak: median step vs median matmul peak; of best: best step vs best matmul peak (less exposed to other "
              + "load)");
      System.out.println(
          "a LoRA step is forward + backward + adapter-gradient read-out (BertStepper.loraGradients); no optimizer "
              + "step");
    }
  }

  @Command(name = "pipeline", description = "Coordination overhead (embedded 1 worker vs single process) of a MiniLM"
      + " classification job and of a causal-LM job (tokens/s), randomized vs exact init (upload, time, "
      + "subspace similarity, accuracy), loopback cluster with 1..N worker JVMs.")
  static final class Pipeline implements java.util.concurrent.Callable<Integer> {
    @Option(
        names = "--steps",
        defaultValue = "12",
        description = "Training steps per job. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(
        names = "--rank",
        defaultValue = "8",
        description = "LoRA rank on all linear layers. Default: ${DEFAULT-VALUE}.")
    int rank;

    @Option(
        names = "--workers",
        defaultValue = "3",
        description = "Largest loopback cluster (worker JVMs). Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(names = "--skip-cluster", description = "Skip the loopback-cluster runs.") boolean skipCluster;
    @Option(names = "--skip-causal-lm", description = "Skip the causal-LM job (random SmolLM-shaped Llama).")
    boolean skipCausalLm;

    @Option(
        names = "--out",
        defaultValue = "out/bench-pipeline",
        description = "Work folder. Default: ${DEFAULT-VALUE}.")
    java.nio.file.Path out;

    @Option(names = "--seed", defaultValue = "0",

        description = "seed of the synthetic inputs (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--json", description = "Print one JSON document.") boolean json;

    @Override
    public Integer call() throws Exception {
      if (steps < 3)
        throw new IllegalArgumentException(
            "--steps must be >= 3 (the first two are warm-up), got " + steps);
      if (workers < 1) throw new IllegalArgumentException("--workers must be >= 1, got " + workers);
      var settings = new dev.loraone.bench.PipelineBenchmark.Settings(steps, rank, workers, !skipCluster, !skipCausalLm,
          seed);
      dev.loraone.bench.PipelineBenchmark.Report r = dev.loraone.bench.PipelineBenchmark.run(settings,
          out.resolve("run-" + System.currentTimeMillis()), System.err);
      if (json) {
        System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r));
        return 0;
      }
      var j = r.job();
      System.out.printf(
          "%s, LoRA-One r = %d on %s, %d steps x %d examples (micro-batch %d, L = %d); init %d examples in %d "
              + "shards, q = %d r, niter %d%n%n",
          j.model(),
          j.rank(),
          j.targets(),
          j.steps(),
          j.batch(),
          j.microBatch(),
          j.maxLength(),
          j.initExamples(),
          j.initShards(),
          j.qFactor(),
          j.niter());
      var o = r.overhead();
      System.out.printf(
          "coordination overhead: median step %.3f s embedded (coordinator + 1 worker actor) / %.3f s single process "
              + "= %.3f (target <= 1.05)%n",
          o.embeddedSeconds(),
          Math.min(o.singleProcessFirstSeconds(), o.singleProcessSecondSeconds()),
          o.ratio());
      System.out.printf(
          "  (single process: %.3f s as the JVM's first DJL work, %.3f s after the embedded run; the faster is the "
              + "reference)%n",
          o.singleProcessFirstSeconds(), o.singleProcessSecondSeconds());
      System.out.println(o.prefetch().line());
      System.out.println();
      if (r.causalLm() != null) printCausalLm(r.causalLm());
      System.out.printf("%-11s %10s %14s  %s%n", "init", "wall s", "final acc", "adapter sha256");
      for (var run : r.init().runs())
        System.out.printf(
            "%-11s %10.2f %14.4f  %s%n",
            run.mode(), run.initSeconds(), run.finalAccuracy(), run.adapterSha256());
      System.out.printf(
          "%ntop-%d subspace similarity, randomized vs exact init (B: left, A: right), min over all %d layers: %.5f "
              + "(target >= 0.98)%n",
          j.rank(), r.init().similarityB().size(), r.init().minSimilarity());
      r.init()
          .similarityB()
          .forEach(
              (m, b) ->
                  System.out.printf(
                      "  %-44s B %.5f  A %.5f%n", m, b, r.init().similarityA().get(m)));
      System.out.printf(
          "%nupload per layer and init shard: %-12s %14s %14s %8s%n",
          "layer", "randomized B", "exact B", "ratio");
      for (var u : r.init().uploads())
        System.out.printf(
            "                                 %-12s %14d %14d %8.4f%n",
            u.shape(), u.randomizedBytes(), u.exactBytes(), u.ratio());
      if (!r.cluster().isEmpty()) {
        System.out.printf(
            "%nloopback cluster (coordinator in this JVM, worker JVMs on 127.0.0.1; 2 cores cannot show scaling):%n");
        System.out.printf(
            "%8s %-11s %14s %16s %8s %12s %14s  %s%n",
            "workers",
            "init",
            "median step s",
            "bytes per step",
            "init s",
            "heap peak",
            "heap retained",
            "adapter sha256");
        for (var c : r.cluster()) {
          System.out.printf(
              "%8d %-11s %14.3f %16d %8.2f %8.1f MiB %10.1f MiB  %s%n",
              c.workers(),
              c.initMode(),
              c.medianStepSeconds(),
              c.bytesPerStep(),
              c.initSeconds(),
              c.initHeapPeakMiB(),
              c.initHeapRetainedMiB(),
              c.adapterSha256());
        }
        System.out.println(
            "heap: the coordinator JVM's Java-heap growth over the init (it holds no model here): peak = the heap "
                + "pools'"
                + " peaks (garbage included), retained = the most held right after a collection");
      }
      return 0;
    }

    private static void printCausalLm(dev.loraone.bench.CausalLmOverhead.Result c) {
      System.out.printf("causal LM: %s, %.2f M parameters; LoRA-One r = %d on all-linear, %d steps x %d rows"
          + " (micro-batch %d), prompts of %d words, L <= %d%n", c.model(), c.parameters() / 1e6, c.rank(), c.steps(),
          c.batch(), c.microBatch(), c.promptWords(), c.maxLength());
      System.out.printf("coordination overhead: median step %.3f s embedded / %.3f s single process = %.3f"
          + " (target <= 1.05; the faster of two runs each)%n", c.embeddedSeconds(), c.singleProcessSeconds(),
          c.ratio());
      System.out.printf("  %.0f completion tokens/s, %.0f tokens/s with prompts (single process); adapter sha256 %s,"
          + " same in every run: %s%n", c.completionTokensPerSecond(), c.tokensPerSecond(), c.adapterSha256(),
          c.sameAdapter());
      System.out.printf("  %-15s %14s %18s %14s %12s  %s%n", "run", "median step s", "completion tok/step",
          "completion/s", "all tok/s", "adapter sha256");
      for (var run : c.runs()) {
        System.out.printf("  %-15s %14.3f %18.1f %14.0f %12.0f  %s%n", run.mode(), run.medianStepSeconds(),
            run.completionTokensPerStep(), run.completionTokensPerSecond(), run.tokensPerSecond(), run.adapterSha256());
      }
      System.out.println();
    }
  }

  @Command(
      name = "svd",
      description =
          "Exact vs randomized SVD (q in {2r,4r}, niter in {0,1,2,4}) on a gradient-like matrix.")
  static final class Svd implements Runnable {
    @Option(
        names = "--rows",
        defaultValue = "1024",
        description = "Rows of G (out). Default: ${DEFAULT-VALUE}.")
    int rows;

    @Option(
        names = "--cols",
        defaultValue = "4096",
        description = "Columns of G (in). Default: ${DEFAULT-VALUE}.")
    int cols;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r. Default: ${DEFAULT-VALUE}.") int rank;

    @Option(
        names = "--q-factors",
        split = ",",
        defaultValue = "2,4",
        description = "Oversampling q/r. Default: ${DEFAULT-VALUE}.")
    int[] qFactors;

    @Option(
        names = "--niter",
        split = ",",
        defaultValue = "0,1,2,4",
        description = "Power iterations. Default: ${DEFAULT-VALUE}.")
    int[] niters;

    @Option(names = "--seed", defaultValue = "7",

        description = "seed of the synthetic inputs (default: ${DEFAULT-VALUE})") long seed;

    @Option(
        names = "--repeat",
        defaultValue = "3",
        description =
            "Runs per randomized setting; the median time is reported. Default: ${DEFAULT-VALUE}.")
    int repeat;

    @Option(names = "--json", description = "Print one JSON document.") boolean json;

    @Override
    public void run() {
      if (rows < 1 || cols < 1)
        throw new IllegalArgumentException(
            "--rows and --cols must be >= 1, got " + rows + " x " + cols);
      if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
      if (rank < 1 || 2 * rank > Math.min(rows, cols)) {
        throw new IllegalArgumentException(
            "--rank must be in [1, min(rows, cols)/2 = "
                + Math.min(rows, cols) / 2
                + "], got "
                + rank);
      }
      SvdBenchmark.Report report = SvdBenchmark.run(rows, cols, rank, qFactors, niters, repeat, seed, System.err);
      if (json) {
        try {
          System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new IllegalStateException(e);
        }
        return;
      }
      System.out.printf(
          "G: %d x %d, r = %d, spectrum sigma_k = k^-%.1f (sigma_8/sigma_1 = %.3f, sigma_32/sigma_1 = %.3f), seed "
              + "%d%n%n",
          report.rows(),
          report.cols(),
          report.rank(),
          0.8,
          report.sigma8(),
          report.sigma32(),
          report.seed());
      System.out.printf(
          "%-10s %4s %5s %9s %10s %10s %8s %8s %9s %6s %14s %10s %8s%n",
          "method",
          "q",
          "niter",
          "time s",
          "alloc MiB",
          "peak MiB",
          "simU",
          "simV",
          "errBA",
          "rounds",
          "floats/round",
          "upload",
          "x G");
      for (SvdBenchmark.Row r : report.results()) {
        String perRound = r.floatsPerRound().stream().distinct().map(String::valueOf).collect(Collectors.joining("|"));
        System.out.printf(
            "%-10s %4s %5s %9.3f %10.1f %10.1f %8.5f %8.5f %9.2e %6d %14s %10d %8.4f%n",
            r.method(),
            r.q() == 0 ? "-" : r.q(),
            r.method().equals("exact") ? "-" : r.niter(),
            r.seconds(),
            r.allocatedMiB(),
            r.peakHeapMiB(),
            r.simU(),
            r.simV(),
            r.errBA(),
            r.rounds(),
            perRound,
            r.totalFloats(),
            r.uploadOverG());
      }
      System.out.println();
      System.out.println(
          "sim: ||U_exact^T U||_F^2 / r (1 = same top-r subspace); errBA: relative error of U S V^T / S_0 "
              + "(LoRA-One's s*B0*A0 up to a constant)");
      System.out.println(
          "upload: floats one shard owner sends over all rounds (G*X rounds send rows*q, G^T*Q rounds send cols*q); "
              + "exact sends G itself");
    }
  }
}
