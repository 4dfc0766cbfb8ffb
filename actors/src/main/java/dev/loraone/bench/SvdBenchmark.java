package dev.loraone.bench;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.core.svd.RandomizedSvd;
import dev.loraone.core.svd.RandomizedSvdRounds;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.ejml.data.DMatrixRMaj;

/**
 * Exact vs randomized SVD on a gradient-like matrix, side by side in one run.
 *
 * <p>The test matrix is {@code G = U diag(sigma) V^T} with random orthonormal U, V and the power-law
 * spectrum {@code sigma_k = k^-0.8}, which puts {@code sigma_8/sigma_1} at 0.19 and
 * {@code sigma_32/sigma_1} at 0.063: the flat, slowly decaying profile measured on real MiniLM
 * gradients (INIT-SVD-FINDINGS.md: medians 0.18 and 0.065). For each method it reports time,
 * bytes allocated and peak heap, the top-r subspace similarity of U and V against the exact SVD,
 * the relative error of the LoRA-One product {@code U S V^T / S_0}, and what one worker would
 * upload: floats per round, rounds, and the total relative to the size of G. Randomized runs are
 * repeated and the median time is reported (the exact SVD runs once: it takes tens of seconds).
 */
public final class SvdBenchmark {
  /** Decay exponent of the synthetic spectrum (see class comment). */
  static final double DECAY = 0.8;

  public record Row(
      String method, int q, int niter, double seconds, double allocatedMiB, double peakHeapMiB,
      double simU, double simV, double errBA, int rounds, List<Long> floatsPerRound, long totalFloats,
      double uploadOverG) {}

  public record Report(int rows, int cols, int rank, double sigma8, double sigma32, long seed, List<Row> results) {}

  private SvdBenchmark() {}

  public static Report run(
      int m,
      int n,
      int r,
      int[] qFactors,
      int[] niters,
      int repeats,
      long seed,
      java.io.PrintStream progress) {
    progress.printf("building a %d x %d test matrix with sigma_k = k^-%.1f ...%n", m, n, DECAY);
    DMatrixRMaj g = testMatrix(m, n, seed);
    List<Row> rows = new ArrayList<>();

    progress.println("exact SVD ...");
    Measured<Svd> exact = measure(() -> Svd.exact(g, r));
    Svd ref = exact.value;
    rows.add(new Row("exact", 0, 0, exact.seconds, exact.allocatedMiB, exact.peakHeapMiB, 1, 1, 0,
        1, List.of((long) m * n), (long) m * n, 1.0));
    DMatrixRMaj refProduct = normalisedProduct(ref);

    for (int qf : qFactors) {
      for (int niter : niters) {
        int q = Math.min(qf * r, Math.min(m, n));
        progress.printf("randomized q=%d niter=%d ...%n", q, niter);
        Measured<RandomizedSvdRounds> rs = null;
        double[] times = new double[repeats];
        for (int rep = 0; rep < repeats; rep++) {
          rs = measure(() -> RandomizedSvd.run(dev.loraone.core.svd.MatrixOperator.of(g), r, q, niter, seed + 1));
          times[rep] = rs.seconds;
        }
        java.util.Arrays.sort(times);
        rs = new Measured<>(rs.value, times[repeats / 2], rs.allocatedMiB, rs.peakHeapMiB);
        Svd approx = rs.value.result();
        List<Long> perRound = new ArrayList<>();
        for (int i = 0; i < rs.value.roundsCompleted(); i++) perRound.add(rs.value.uploadFloatsPerShard(i));
        long total = rs.value.totalUploadFloatsPerShard();
        rows.add(new Row("randomized", q, niter, rs.seconds, rs.allocatedMiB, rs.peakHeapMiB,
            Subspaces.similarity(ref.u(), approx.u()), Subspaces.similarity(ref.v(), approx.v()),
            Subspaces.relativeError(normalisedProduct(approx), refProduct),
            rs.value.roundsCompleted(), perRound, total, total / (double) ((long) m * n)));
      }
    }
    return new Report(m, n, r, Math.pow(8, -DECAY), Math.pow(32, -DECAY), seed, rows);
  }

  /** {@code U diag(S) V^T / S_0}: proportional to LoRA-One's {@code s*B0*A0} (reference 2.3). */
  private static DMatrixRMaj normalisedProduct(Svd svd) {
    return Matrices.scaled(1.0 / svd.s()[0], svd.reconstruct());
  }

  static DMatrixRMaj testMatrix(int m, int n, long seed) {
    Random rng = new Random(seed);
    int k = Math.min(m, n);
    DMatrixRMaj u = Matrices.orthonormalColumns(Matrices.gaussian(m, k, rng, 1));
    DMatrixRMaj v = Matrices.orthonormalColumns(Matrices.gaussian(n, k, rng, 1));
    double[] sigma = new double[k];
    for (int i = 0; i < k; i++) sigma[i] = Math.pow(i + 1, -DECAY);
    return new Svd(u, sigma, v).reconstruct();
  }

  private record Measured<T>(T value, double seconds, double allocatedMiB, double peakHeapMiB) {}

  private static <T> Measured<T> measure(Supplier<T> work) {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(p -> p.getType() == MemoryType.HEAP).toList();
    System.gc();
    long base = heap.stream().mapToLong(p -> p.getUsage().getUsed()).sum();
    heap.forEach(MemoryPoolMXBean::resetPeakUsage);
    long tid = Thread.currentThread().getId();
    long alloc0 = threads.getThreadAllocatedBytes(tid);
    long t0 = System.nanoTime();
    T value = work.get();
    double seconds = (System.nanoTime() - t0) / 1e9;
    long allocated = threads.getThreadAllocatedBytes(tid) - alloc0;
    long peak = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    return new Measured<>(value, seconds, allocated / 1048576.0, Math.max(0, peak - base) / 1048576.0);
  }
}
