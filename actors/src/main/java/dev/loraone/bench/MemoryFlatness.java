package dev.loraone.bench;

import ai.djl.pytorch.jni.JniUtils;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.train.BertStepper;
import dev.loraone.worker.train.ClassificationBatch;
import dev.loraone.worker.weights.BertConfig;

/**
 * Does native memory stay flat over many LoRA steps? STYLE.md promises it (one sub-manager per
 * step, closed at its end); this checks it: {@code steps} {@link BertStepper#loraGradients} calls
 * on a small random model, with RSS and the resident memory outside the Java heap ({@link
 * Rss#outsideHeapMiB()}) read after a full GC at an early checkpoint and at the end. RSS alone is
 * not the verdict: it also grows while G1 first touches heap pages it had committed.
 *
 * <p>Runs on one libtorch thread: it measures memory, not speed, and one thread makes it immune to
 * OpenMP's spin-waiting on a busy machine, which stretched these millisecond steps to over a second.
 */
public final class MemoryFlatness {

  /** The small model and the run length. */
  public record Config(BertConfig model, int batch, int seq, int steps) {
    public Config {
      if (steps < 2) throw new IllegalArgumentException("memory steps must be >= 2, got " + steps);
      if (seq > model.maxPositions()) {
        throw new IllegalArgumentException("memory seq " + seq + " exceeds max positions " + model.maxPositions());
      }
    }

    /** Hidden 64, 2 layers, 4 heads, FFN 256; batch 8 of 32 tokens. */
    public static Config small(int steps) {
      return new Config(new BertConfig(1000, 64, 2, 4, 256, 64, 2, BertConfig.DEFAULT_LAYER_NORM_EPS), 8, 32, steps);
    }

    /** The first reading: after 100 steps, or half the run when that is shorter. */
    public int checkpoint() {
      return Math.min(100, steps / 2);
    }
  }

  /**
   * RSS and resident memory outside the Java heap after {@code firstSteps} and after {@code steps}
   * steps.
   */
  public record Result(
      String model,
      int batch,
      int seq,
      int firstSteps,
      int steps,
      double rssFirstMiB,
      double rssEndMiB,
      double rssGrowthMiB,
      double outsideHeapFirstMiB,
      double outsideHeapEndMiB,
      double outsideHeapGrowthMiB,
      double msPerStep) {}

  private MemoryFlatness() {}

  /** Runs the steps with rank-{@code rank} adapters on every Linear. */
  public static Result run(Config c, int rank, long seed) {
    LoraConfig lora = LoraConfig.of(rank, 2.0 * rank, true, 0, seed, LoraConfig.ALL_LINEAR);
    BertLoraModel model =
        BertLoraModel.create(
            c.model(), lora, new BertLoraModel.Head.Classification(ModelBenchmark.NUM_LABELS));
    ClassificationBatch batch = ModelBenchmark.syntheticBatch(c.batch(), c.seq(), c.model().vocabSize(), seed);
    double rssFirst = 0;
    double outsideFirst = 0;
    long t0 = 0;
    int defaultThreads = ModelBenchmark.torchThreads();
    JniUtils.setNumThreads(1);
    try (BertStepper stepper = new BertStepper(model)) {
      for (int i = 1; i <= c.steps(); i++) {
        stepper.loraGradients(batch, i);
        if (i == c.checkpoint()) {
          System.gc(); // like with like: both readings right after a full collection
          rssFirst = Rss.read().rssMiB();
          outsideFirst = Rss.outsideHeapMiB();
          t0 = System.nanoTime();
        }
      }
      double msPerStep = (System.nanoTime() - t0) / 1e6 / (c.steps() - c.checkpoint());
      System.gc();
      double rssEnd = Rss.read().rssMiB();
      double outsideEnd = Rss.outsideHeapMiB();
      BertConfig m = c.model();
      String name = "random BERT H=" + m.hiddenSize() + " layers=" + m.numLayers() + " FFN=" + m.intermediateSize()
          + ", 1 libtorch thread";
      return new Result(name, c.batch(), c.seq(), c.checkpoint(), c.steps(), rssFirst, rssEnd, rssEnd - rssFirst,
          outsideFirst, outsideEnd, outsideEnd - outsideFirst, msPerStep);
    } finally {
      JniUtils.setNumThreads(defaultThreads);
    }
  }
}
