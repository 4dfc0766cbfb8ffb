package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.BertConfig;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A garbage collection between forward and backward must not change gradients. Every tensor that
 * autograd saves for backward must own its memory: a tensor over a Java direct buffer (DJL's
 * {@code create(float[])}, and the scalar operand of {@code mul(Number)} / {@code div(Number)})
 * is freed by the buffer's Cleaner after a GC, and backward then reads freed memory.
 */
class GcDuringBackwardTest {

  private static BertConfig small() {
    return new BertConfig(50, 32, 3, 4, 64, 16, 2, 1e-12);
  }

  private static ClassificationBatch batch() {
    int b = 4;
    int l = 12;
    SplittableRandom r = new SplittableRandom(5);
    long[] ids = new long[b * l];
    long[] mask = new long[b * l];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = 1 + r.nextInt(49);
      mask[i] = (i % l) < l - (i / l) ? 1 : 0;
    }
    return new ClassificationBatch(0, new TokenBatch(b, l, ids, mask, new long[b * l]), new int[] {0, 1, 2, 1});
  }

  private static float[] randoms(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) ((r.nextDouble() - 0.5) * 0.2);
    return f;
  }

  private static BertLoraModel model() {
    return model(0.0);
  }

  private static BertLoraModel model(double dropout) {
    return BertLoraModel.create(small(), LoraConfig.of(4, 8, false, dropout, 3, "all-linear"),
        new BertLoraModel.Head.Classification(3));
  }

  private static void nonZeroAdapters(BertLoraModel model) {
    long seed = 100;
    for (String m : model.adaptedModules()) {
      model.setLoraA(m, randoms(model.getLoraA(m).length, seed++));
      model.setLoraB(m, randoms(model.getLoraB(m).length, seed++));
    }
  }

  /** Waits until a GC has run and the Cleaner had time to free the direct buffers it found. */
  private static void collect() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
  }

  private static float[] gradient(BertLoraModel model, String name) {
    try (NDArray g = model.namedParameters().get(name).getArray().getGradient()) {
      float[] v = g.toFloatArray();
      g.subi(g);
      return v;
    }
  }

  /** The model's forward and backward as BertStepper runs them, once plain, once with a full GC in between. */
  @Test
  void gradientsDoNotChangeWhenGarbageIsCollectedBetweenForwardAndBackward() throws Exception {
    BertLoraModel model = model();
    try (BertStepper stepper = new BertStepper(model)) {
      nonZeroAdapters(model);
      ClassificationBatch batch = batch();
      Map<String, float[][]> want = stepper.loraGradients(batch, 0).adapters();
      String q0 = "encoder.layer.0.attention.self.query";
      manualStep(model, batch, false);
      assertArrayEquals(want.get(q0)[0], gradient(model, q0 + ".lora_A.weight"), "control without GC");
      gradient(model, q0 + ".lora_B.weight");
      manualStep(model, batch, true);
      float[] a = gradient(model, q0 + ".lora_A.weight");
      float[] b = gradient(model, q0 + ".lora_B.weight");
      assertArrayEquals(
          want.get(q0)[0],
          a,
          q0
              + ".lora_A grad after a GC between forward and backward: "
              + Arrays.toString(Arrays.copyOf(a, 4)));
      assertArrayEquals(want.get(q0)[1], b, q0 + ".lora_B grad after a GC between forward and backward");
    }
  }

  private static void manualStep(BertLoraModel model, ClassificationBatch batch, boolean gcInBetween)
      throws InterruptedException {
    try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      ParameterStore store = new ParameterStore(m, false);
      NDList in = BertStepper.inputs(m, batch.tokens());
      float[] f = new float[batch.size()];
      for (int i = 0; i < f.length; i++) f[i] = batch.labels()[i];
      NDArray labels = m.create(f).duplicate();
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray logits = model.forward(store, in, true).head();
        NDArray l = Loss.softmaxCrossEntropyLoss().evaluate(new NDList(labels), new NDList(logits));
        if (gcInBetween) collect();
        gc.backward(l);
      }
    }
  }

  /** BertStepper.loraGradients, unchanged, while another thread collects garbage all the time. */
  @Test
  void loraGradientsAreBitIdenticalUnderConstantGarbageCollection() throws Exception {
    underConstantGarbageCollection(0.0);
  }

  /** As above with adapter dropout (same seed every call, so the same masks). */
  @Test
  void loraGradientsWithAdapterDropoutAreBitIdenticalUnderConstantGarbageCollection() throws Exception {
    underConstantGarbageCollection(0.1);
  }

  private static void underConstantGarbageCollection(double dropout) throws Exception {
    BertLoraModel model = model(dropout);
    try (BertStepper stepper = new BertStepper(model)) {
      nonZeroAdapters(model);
      ClassificationBatch batch = batch();
      BertStepper.LoraGradients want = stepper.loraGradients(batch, 0);
      BertStepper.LoraGradients quiet = stepper.loraGradients(batch, 0);
      for (String mod : want.adapters().keySet()) {
        assertArrayEquals(want.adapters().get(mod)[0], quiet.adapters().get(mod)[0], "control without GC: " + mod);
      }
      AtomicBoolean stop = new AtomicBoolean();
      Thread hammer = new Thread(() -> {
        while (!stop.get()) {
          System.gc();
          try {
            Thread.sleep(1);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "gc-hammer");
      hammer.setDaemon(true);
      hammer.start();
      int bad = 0;
      int runs = 30;
      String first = null;
      try {
        for (int i = 0; i < runs; i++) {
          BertStepper.LoraGradients got = stepper.loraGradients(batch, 0);
          for (String mod : want.adapters().keySet()) {
            if (!Arrays.equals(want.adapters().get(mod)[0], got.adapters().get(mod)[0])
                || !Arrays.equals(want.adapters().get(mod)[1], got.adapters().get(mod)[1])) {
              bad++;
              if (first == null) first = "run " + i + ": " + mod;
              break;
            }
          }
        }
      } finally {
        stop.set(true);
        hammer.join();
      }
      assertEquals(0, bad, bad + " of " + runs + " runs changed gradients under GC; first " + first);
    }
  }
}
