package dev.loraone.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.bench.SvdBenchmark;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone bench ...}: measurements printed side by side from one run. */
@Command(name = "bench", description = "Benchmarks, reported side by side from one run.", subcommands = {BenchCommand.Svd.class})
final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  @Command(name = "svd", description = "Exact vs randomized SVD (q in {2r,4r}, niter in {0,1,2,4}) on a gradient-like matrix.")
  static final class Svd implements Runnable {
    @Option(names = "--rows", defaultValue = "1024", description = "Rows of G (out). Default: ${DEFAULT-VALUE}.") int rows;
    @Option(names = "--cols", defaultValue = "4096", description = "Columns of G (in). Default: ${DEFAULT-VALUE}.") int cols;
    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r. Default: ${DEFAULT-VALUE}.") int rank;
    @Option(names = "--q-factors", split = ",", defaultValue = "2,4", description = "Oversampling q/r. Default: ${DEFAULT-VALUE}.") int[] qFactors;
    @Option(names = "--niter", split = ",", defaultValue = "0,1,2,4", description = "Power iterations. Default: ${DEFAULT-VALUE}.") int[] niters;
    @Option(names = "--seed", defaultValue = "7") long seed;
    @Option(names = "--repeat", defaultValue = "3", description = "Runs per randomized setting; the median time is reported. Default: ${DEFAULT-VALUE}.") int repeat;
    @Option(names = "--json", description = "Print one JSON document.") boolean json;

    @Override
    public void run() {
      if (rows < 1 || cols < 1) throw new IllegalArgumentException("--rows and --cols must be >= 1, got " + rows + " x " + cols);
      if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
      if (rank < 1 || 2 * rank > Math.min(rows, cols)) {
        throw new IllegalArgumentException("--rank must be in [1, min(rows, cols)/2 = " + Math.min(rows, cols) / 2 + "], got " + rank);
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
      System.out.printf("G: %d x %d, r = %d, spectrum sigma_k = k^-%.1f (sigma_8/sigma_1 = %.3f, sigma_32/sigma_1 = %.3f), seed %d%n%n",
          report.rows(), report.cols(), report.rank(), 0.8, report.sigma8(), report.sigma32(), report.seed());
      System.out.printf("%-10s %4s %5s %9s %10s %10s %8s %8s %9s %6s %14s %10s %8s%n",
          "method", "q", "niter", "time s", "alloc MiB", "peak MiB", "simU", "simV", "errBA", "rounds", "floats/round", "upload", "x G");
      for (SvdBenchmark.Row r : report.results()) {
        String perRound = r.floatsPerRound().stream().distinct().map(String::valueOf).collect(Collectors.joining("|"));
        System.out.printf("%-10s %4s %5s %9.3f %10.1f %10.1f %8.5f %8.5f %9.2e %6d %14s %10d %8.4f%n",
            r.method(), r.q() == 0 ? "-" : r.q(), r.method().equals("exact") ? "-" : r.niter(), r.seconds(),
            r.allocatedMiB(), r.peakHeapMiB(), r.simU(), r.simV(), r.errBA(), r.rounds(), perRound, r.totalFloats(), r.uploadOverG());
      }
      System.out.println();
      System.out.println("sim: ||U_exact^T U||_F^2 / r (1 = same top-r subspace); errBA: relative error of U S V^T / S_0 (LoRA-One's s*B0*A0 up to a constant)");
      System.out.println("upload: floats one shard owner sends over all rounds (G*X rounds send rows*q, G^T*Q rounds send cols*q); exact sends G itself");
    }
  }
}
