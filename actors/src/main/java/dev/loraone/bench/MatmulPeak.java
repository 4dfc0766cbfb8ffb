package dev.loraone.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * The machine's attainable float32 matrix-multiply rate through the same path the model takes:
 * DJL's {@code NDArray.matMul} on libtorch (MKL/oneDNN sgemm), with libtorch's own thread pool.
 * Square {@code n x n} products cost {@code 2 n^3} FLOPs; each size is run once to warm up and then
 * {@code repeats} times. Per size it keeps the median rate and the best one; the peaks are the
 * largest over the sizes: the denominators for "what fraction of the machine does a step use".
 * The best rate is the one to compare with a best step time on a machine shared with other work.
 *
 * @param sizes the n of each measured product
 * @param medianGflopPerSecond the median rate of each size
 * @param bestGflopPerSecond the best rate of each size
 * @param peakGflopPerSecond the largest median rate
 * @param bestPeakGflopPerSecond the largest best rate
 */
public record MatmulPeak(List<Integer> sizes, List<Double> medianGflopPerSecond, List<Double> bestGflopPerSecond,
    double peakGflopPerSecond, double bestPeakGflopPerSecond) {

  /** Measures square products of each size in {@code sizes}. */
  public static MatmulPeak measure(int[] sizes, int repeats) {
    List<Integer> ns = new ArrayList<>();
    List<Double> medians = new ArrayList<>();
    List<Double> bests = new ArrayList<>();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      for (int n : sizes) {
        try (NDManager sub = m.newSubManager()) {
          NDArray a = sub.randomNormal(new Shape(n, n));
          NDArray b = sub.randomNormal(new Shape(n, n));
          a.matMul(b).close(); // warm-up: thread pool start, packing buffers
          double[] seconds = new double[repeats];
          for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            NDArray c = a.matMul(b); // eager on CPU: returns when the product is done
            seconds[i] = (System.nanoTime() - t0) / 1e9;
            c.close();
          }
          double flops = 2.0 * n * n * (double) n;
          ns.add(n);
          medians.add(flops / ModelBenchmark.median(seconds) / 1e9);
          bests.add(flops / java.util.Arrays.stream(seconds).min().orElseThrow() / 1e9);
        }
      }
    }
    return of(ns, medians, bests);
  }

  /** Per size the larger rate of two measurements of the same sizes (e.g. before and after a long run). */
  public MatmulPeak max(MatmulPeak other) {
    if (!sizes.equals(other.sizes))
      throw new IllegalArgumentException("different sizes: " + sizes + " vs " + other.sizes);
    List<Double> medians = new ArrayList<>();
    List<Double> bests = new ArrayList<>();
    for (int i = 0; i < sizes.size(); i++) {
      medians.add(Math.max(medianGflopPerSecond.get(i), other.medianGflopPerSecond.get(i)));
      bests.add(Math.max(bestGflopPerSecond.get(i), other.bestGflopPerSecond.get(i)));
    }
    return of(sizes, medians, bests);
  }

  private static MatmulPeak of(List<Integer> sizes, List<Double> medians, List<Double> bests) {
    double peak = medians.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    double best = bests.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    return new MatmulPeak(List.copyOf(sizes), List.copyOf(medians), List.copyOf(bests), peak, best);
  }
}
