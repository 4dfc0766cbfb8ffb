package dev.loraone.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.bench.SvdBenchmark;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone bench ...}: measurements printed side by side from one run. */
@Command(
    name = "bench",
    description = "Benchmarks, reported side by side from one run.",
    subcommands = {BenchCommand.Svd.class, BenchModelCommand.class, BenchCommand.Pipeline.class})
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
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
