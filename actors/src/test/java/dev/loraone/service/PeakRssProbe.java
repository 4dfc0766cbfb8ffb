package dev.loraone.service;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.loraone.bench.Rss;
import dev.loraone.cli.Main;

/**
 * Runs one job with {@code loraone finetune} in this fresh JVM and prints {@code PEAK <runtime MiB> <peak MiB>
 * <exit code>}: the resident memory once the engine is up (the node's runtime, before any job) and the
 * high-water mark after the job. {@link CapacityEstimateIT} starts it.
 */
public final class PeakRssProbe {
  private PeakRssProbe() {}

  public static void main(String[] args) throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      m.ones(new Shape(64, 64)).matMul(m.ones(new Shape(64, 64))).sum().getFloat(); // libtorch loaded and warm
    }
    System.gc();
    Thread.sleep(200);
    double runtime = Rss.read().rssMiB();
    int rc = Main.newCommandLine().execute("finetune", "--job", args[0], "--out", args[1]);
    System.out.println("PEAK " + runtime + " " + Rss.read().peakMiB() + " " + rc);
    System.exit(rc);
  }
}
