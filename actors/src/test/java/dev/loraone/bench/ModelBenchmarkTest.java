package dev.loraone.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.worker.weights.BertConfig;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link ModelBenchmark} end to end on a tiny random BERT: every section reports sane numbers. */
class ModelBenchmarkTest {
  private static final BertConfig TINY = new BertConfig(100, 32, 2, 4, 64, 64, 2, BertConfig.DEFAULT_LAYER_NORM_EPS);

  @Test
  void tinyRunReportsPositiveTimesRatesAndMemory() throws Exception {
    // One thread: millisecond ops on two threads stall for up to a second when the machine is busy (OpenMP spin-waits).
    ModelBenchmark.Settings s = new ModelBenchmark.Settings(4, 16, 2, 2, 1, 2, new int[] {128, 256}, 2, 1, 3);
    MemoryFlatness.Config memory = new MemoryFlatness.Config(TINY, 4, 16, 50);
    ModelBenchmark.Report r = ModelBenchmark.run(() -> new ModelBenchmark.Subject("tiny", TINY, null), s, memory,
        new PrintStream(OutputStream.nullOutputStream()));

    assertEquals(12, r.adaptedModules(), "all six Linears of both layers");
    assertEquals(1, r.torchThreads());
    assertTrue(
        r.matmul().peakGflopPerSecond() > 0
            && r.matmul().bestPeakGflopPerSecond() >= r.matmul().peakGflopPerSecond());
    assertEquals(
        r.matmul().peakGflopPerSecond(),
        Math.max(r.peakBeforeGflopPerSecond(), r.peakAfterGflopPerSecond()),
        1e-9);
    for (ModelBenchmark.Step step : List.of(r.lora(), r.full())) {
      assertTrue(
          step.medianSeconds() > 0
              && step.minSeconds() > 0
              && step.minSeconds() <= step.medianSeconds(),
          step.toString());
      for (ModelBenchmark.Rate rate : step.rates()) {
        assertTrue(rate.gflop() > 0 && rate.gflopPerSecond() > 0, rate.toString());
        assertTrue(rate.ofPeak() > 0 && rate.ofPeak() < 2, rate.toString());
        assertTrue(rate.bestOfPeak() > 0 && rate.bestOfPeak() < 2, rate.toString());
      }
    }
    assertEquals(
        List.of("3x forward", "lora-exact"),
        r.lora().rates().stream().map(ModelBenchmark.Rate::convention).toList());

    assertEquals(
        List.of(
            "djl-eager/1",
            "djl-eager/4",
            "onnxruntime/1",
            "onnxruntime/4",
            "onnxruntime-nospin/1",
            "onnxruntime-nospin/4"),
        r.inference().stream().map(i -> i.engine() + "/" + i.batch()).toList());
    r.inference().forEach(i -> assertTrue(i.medianMs() > 0 && i.sequencesPerSecond() > 0, i.toString()));
    // float32 with a different op order (merged W' vs W + s*B*A); logits of a 2-layer model are O(0.1)
    assertTrue(r.export().logitsMaxAbsDiff() < 1e-4, "ORT vs DJL logits " + r.export().logitsMaxAbsDiff());

    assertTrue(r.memory().size() >= 4);
    r.memory().forEach(st -> assertTrue(st.rssMiB() > 0 && st.peakRssMiB() >= st.rssMiB(), st.toString()));
    MemoryFlatness.Result f = r.flatness();
    assertNotNull(f);
    assertEquals(25, f.firstSteps(), "half of a run shorter than 200 steps");
    assertTrue(f.rssFirstMiB() > 0 && f.rssEndMiB() > 0 && f.msPerStep() > 0, f.toString());
    assertTrue(
        f.outsideHeapFirstMiB() > 0 && f.outsideHeapEndMiB() > 0,
        "the Java heap range was found in smaps: " + f);
    assertTrue(f.outsideHeapEndMiB() < f.rssEndMiB(), f.toString());
  }

  @Test
  void flopCountFollowsTheFormula() {
    BertFlops f = BertFlops.of(TINY, 4, 16, 2, 8);
    double t = 4 * 16;
    assertEquals(2 * 2 * t * (4 * 32 * 32 + 2 * 32 * 64), f.linearForward());
    assertEquals(2 * 4.0 * 4 * 4 * 16 * 16 * 8, f.attentionForward(), "2 layers x 2 products x B*heads*L*L*d");
    assertEquals(2 * 2 * t * 2 * (8 * 32 + 2 * (32 + 64)), f.adapterForward());
    assertEquals(3 * f.forward(), f.conventionalStep());
    assertTrue(f.loraExactStep() < f.conventionalStep() && f.loraExactStep() > 2 * f.forward());
  }

  @Test
  void outsideHeapLeavesOutTheLargestAnonymousRunOnly() {
    List<String> smaps = List.of(
        "600000000-640000000 rw-p 00000000 00:00 0", "Rss:  300 kB", // heap, committed part
        "640000000-800000000 ---p 00000000 00:00 0", "Rss:    0 kB", // heap, reserved part
        "7f0000000000-7f0000100000 rw-p 00000000 00:00 0", "Rss:  40 kB", // malloc arena
        "7f0000100000-7f0000200000 r-xp 00000000 08:01 42 /usr/lib/libtorch_cpu.so", "Rss:  60 kB",
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]", "Rss:   4 kB");
    assertEquals((40 + 60 + 4) / 1024.0, Rss.outsideHeapMiB(smaps, 8L << 30), 1e-12);
    assertEquals(-1, Rss.outsideHeapMiB(smaps, 16L << 30), "no run near -Xmx: unknown, not a guess");
  }

  @Test
  void rssParsesProcStatus() {
    Rss r = Rss.parse("Name:\tjava\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n");
    assertEquals(100.0, r.rssMiB());
    assertEquals(200.0, r.peakMiB());
  }
}
