package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.loraone.worker.model.BertLoraModel.Head;
import dev.loraone.worker.weights.BertConfig;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LoraLinearTest {

  private static final int IN = 6;
  private static final int OUT = 5;
  private static final int RANK = 3;
  private static final float SCALE = 2f;
  // Float32 matmuls of magnitude ~10 in different association orders; 1e-5 relative is ~100 ulp.
  private static final double RTOL = 1e-5;

  @Test
  void loraOutputEqualsJavaReferenceWxPlusBPlusSBAx() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LoraLinear lin = adaptedLinear(m, 1);
      float[] x = randoms(4 * IN, 2);
      float[] w = lin.weight().getArray().toFloatArray();
      float[] b = lin.bias().getArray().toFloatArray();
      float[] a = lin.getLoraA();
      float[] bb = lin.getLoraB();
      float[] y = forward(lin, m, x);
      for (int row = 0; row < 4; row++) {
        for (int o = 0; o < OUT; o++) {
          double ref = b[o];
          for (int i = 0; i < IN; i++) {
            ref += w[o * IN + i] * x[row * IN + i];
          }
          for (int r = 0; r < RANK; r++) {
            double ax = 0;
            for (int i = 0; i < IN; i++) {
              ax += a[r * IN + i] * x[row * IN + i];
            }
            ref += SCALE * bb[o * RANK + r] * ax;
          }
          assertEquals(ref, y[row * OUT + o], RTOL * Math.max(1, Math.abs(ref)), "y[" + row + "][" + o + "]");
        }
      }
    }
  }

  @Test
  void biasFreeLayerComputesXWtPlusAdapterAndHasNoBiasParameter() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LoraLinear lin = new LoraLinear("mlp.up_proj", IN, OUT, RANK, SCALE, 0, 8, Seeded.normal(0.5, 8, "w"), false);
      lin.initialize(m, DataType.FLOAT32, new Shape(1, IN));
      lin.setLoraA(randoms(RANK * IN, 9));
      lin.setLoraB(randoms(OUT * RANK, 10));
      assertFalse(lin.hasBias());
      assertThrows(IllegalStateException.class, lin::bias);
      Map<String, Parameter> named = new HashMap<>();
      lin.collectParameters(named);
      assertEquals(java.util.Set.of("mlp.up_proj.weight", "mlp.up_proj.lora_A.weight", "mlp.up_proj.lora_B.weight"),
          named.keySet());
      float[] x = randoms(3 * IN, 11);
      float[] w = lin.weight().getArray().toFloatArray();
      float[] a = lin.getLoraA();
      float[] b = lin.getLoraB();
      float[] y = forward(lin, m, x);
      for (int row = 0; row < 3; row++) {
        for (int o = 0; o < OUT; o++) {
          double ref = 0;
          for (int i = 0; i < IN; i++) {
            double ba = 0;
            for (int r = 0; r < RANK; r++) {
              ba += b[o * RANK + r] * a[r * IN + i];
            }
            ref += (w[o * IN + i] + SCALE * ba) * x[row * IN + i];
          }
          assertEquals(ref, y[row * OUT + o], RTOL * Math.max(1, Math.abs(ref)), "y[" + row + "][" + o + "]");
        }
      }
    }
  }

  @Test
  void adapterMergedAndUnmergedOutputsAgree() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LoraLinear lin = adaptedLinear(m, 3);
      float[] x = randoms(4 * IN, 4);
      float[] w0 = lin.weight().getArray().toFloatArray();
      float[] active = forward(lin, m, x);
      lin.merge();
      assertTrue(lin.isMerged());
      float[] merged = forward(lin, m, x);
      lin.unmerge();
      float[] unmerged = forward(lin, m, x);
      assertClose(active, merged, "merged");
      assertClose(active, unmerged, "unmerged");
      assertClose(w0, lin.weight().getArray().toFloatArray(), "W after merge+unmerge");
    }
  }

  @Test
  void mergeThatWouldOverflowOrNaNThrowsAndLeavesWeightUnchanged() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LoraLinear lin = adaptedLinear(m, 5);
      float[] w0 = lin.weight().getArray().toFloatArray();
      float[] huge = new float[OUT * RANK];
      Arrays.fill(huge, 3e38f);
      lin.setLoraB(huge);
      assertThrows(IllegalStateException.class, lin::merge);
      assertArrayEquals(w0, lin.weight().getArray().toFloatArray());
      assertFalse(lin.isMerged());

      float[] a = lin.getLoraA();
      a[0] = Float.NaN;
      lin.setLoraB(randoms(OUT * RANK, 6));
      lin.setLoraA(a);
      assertThrows(IllegalStateException.class, lin::merge);
      assertArrayEquals(w0, lin.weight().getArray().toFloatArray());
    }
  }

  @Test
  void modelMergeIsAllOrNothing() {
    BertLoraModel model = BertLoraModel.create(tinyConfig(), LoraConfig.of(2, 4, false, 0, 11, "query,value"),
        new Head.Embedding());
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      String first = model.adaptedModules().get(0);
      String last = model.adaptedModules().get(model.adaptedModules().size() - 1);
      model.setLoraB(first, randoms(8 * 2, 12));
      float[] inf = new float[8 * 2];
      Arrays.fill(inf, Float.POSITIVE_INFINITY);
      model.setLoraB(last, inf);
      Map<String, float[]> before = baseSnapshot(model);
      assertThrows(IllegalStateException.class, model::mergeAdapters);
      before.forEach(
          (name, v) ->
              assertArrayEquals(
                  v, model.namedParameters().get(name).getArray().toFloatArray(), name));
      assertFalse(model.linear(first).isMerged());
    }
  }

  @Test
  void baseWeightsAreBitIdenticalAfterAnOptimizerStepInLoraMode() {
    LoraConfig lora = LoraConfig.of(2, 4, true, 0.1, 21, "query,value");
    BertLoraModel net = BertLoraModel.create(tinyConfig(), lora, new Head.Classification(3));
    String q0 = "encoder.layer.0.attention.self.query";
    DefaultTrainingConfig cfg = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
        .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(1e-2f)).build());
    try (Model model = Model.newInstance("lora-freeze", "PyTorch")) {
      model.setBlock(net);
      try (Trainer trainer = model.newTrainer(cfg)) {
        trainer.initialize(new Shape(2, 5), new Shape(2, 5), new Shape(2, 5));
        net.setLoraB(q0, randoms(8 * 2, 22)); // non-zero B so that A gets a gradient too
        Map<String, float[]> before = snapshot(net);
        try (NDManager step = trainer.getManager().newSubManager()) {
          long[] ids = {2, 7, 9, 4, 3, 2, 5, 1, 0, 0};
          long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
          NDList in = new NDList(step.create(ids, new Shape(2, 5)), step.create(new long[10], new Shape(2, 5)),
              step.create(mask, new Shape(2, 5)));
          try (GradientCollector gc = trainer.newGradientCollector()) {
            NDArray logits = trainer.forward(in).get(0);
            gc.backward(trainer.getLoss().evaluate(new NDList(step.create(new float[] {0, 2})), new NDList(logits)));
          }
          Parameter w = net.namedParameters().get(q0 + ".weight");
          assertFalse(w.requiresGradient() || w.getArray().hasGradient(), "base W has no gradient");
          trainer.step();
        }
        Map<String, float[]> after = snapshot(net);
        before.forEach((name, v) -> {
          if (WeightLoading.isBase(name)) {
            assertArrayEquals(v, after.get(name), name + " is frozen and must stay bit-identical");
          }
        });
        for (String n : new String[] {q0 + ".lora_A.weight", q0 + ".lora_B.weight", "classifier.weight"}) {
          assertFalse(Arrays.equals(before.get(n), after.get(n)), n + " was updated");
        }
      }
    }
  }

  @Test
  void dropoutMasksAreAFunctionOfTheSeed() {
    LoraConfig lora = LoraConfig.of(2, 4, false, 0.5, 31, "all-linear");
    BertLoraModel net = BertLoraModel.create(tinyConfig(), lora, new Head.Embedding());
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      net.initialize(m);
      net.adaptedModules().forEach(mod -> net.setLoraB(mod, randoms(net.linear(mod).outFeatures() * 2, 32)));
      Shape s = new Shape(1, 4);
      NDList in =
          new NDList(
              m.create(new long[] {2, 5, 7, 3}, s),
              m.create(new long[4], s),
              m.create(new long[] {1, 1, 1, 1}, s));
      ParameterStore ps = new ParameterStore(m, false);
      net.setDropoutSeed(99);
      float[] first = net.forward(ps, in, true).get(0).toFloatArray();
      float[] second = net.forward(ps, in, true).get(0).toFloatArray();
      net.setDropoutSeed(99);
      float[] replay = net.forward(ps, in, true).get(0).toFloatArray();
      assertArrayEquals(first, replay, "same seed, same masks");
      assertFalse(Arrays.equals(first, second), "the next forward draws new masks");
    }
  }

  static BertConfig tinyConfig() {
    return new BertConfig(16, 8, 2, 2, 16, 8, 2, 1e-12);
  }

  private static LoraLinear adaptedLinear(NDManager m, long seed) {
    LoraLinear lin = new LoraLinear("layer.dense", IN, OUT, RANK, SCALE, 0, seed, Seeded.normal(0.5, seed, "w"));
    lin.initialize(m, DataType.FLOAT32, new Shape(1, IN));
    lin.bias().getArray().set(randoms(OUT, seed + 100));
    lin.setLoraA(randoms(RANK * IN, seed + 200));
    lin.setLoraB(randoms(OUT * RANK, seed + 300));
    return lin;
  }

  private static float[] forward(LoraLinear lin, NDManager m, float[] x) {
    try (NDManager step = m.newSubManager()) {
      NDArray in = step.create(x, new Shape(x.length / IN, IN));
      return lin.forward(new ParameterStore(step, false), new NDList(in), false).head().toFloatArray();
    }
  }

  private static Map<String, float[]> snapshot(BertLoraModel net) {
    Map<String, float[]> out = new HashMap<>();
    net.namedParameters().forEach((name, p) -> out.put(name, p.getArray().toFloatArray()));
    return out;
  }

  private static Map<String, float[]> baseSnapshot(BertLoraModel net) {
    Map<String, float[]> out = snapshot(net);
    out.keySet().removeIf(n -> !WeightLoading.isBase(n));
    return out;
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      double tol = RTOL * Math.max(1, Math.abs(expected[i]));
      assertEquals(expected[i], actual[i], tol, what + "[" + i + "]");
    }
  }

  static float[] randoms(int n, long seed) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
