package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.loraone.data.CausalLmEncoder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The step's cheaper op sequences give the bits of the plain formulas they replaced: LoRA's scale on
 * the rank-r side when s is a power of two, and the causal-LM loss gathered before dropping the last
 * position instead of slicing the logits. Compared bit for bit, forward and gradients.
 */
class ExactRescalingTest {

  @Test
  void powersOfTwoAreRecognisedAndNothingElse() {
    for (float x : new float[] {1f, 2f, 0.5f, 8f, (float) Math.sqrt(64), (float) Math.sqrt(16), 0x1p-20f}) {
      assertTrue(Exact.isPowerOfTwo(x), "power of two: " + x);
    }
    for (float x : new float[] {0f, -2f, 3f, (float) Math.sqrt(128), 5.656854f, Float.NaN, Float.POSITIVE_INFINITY}) {
      assertFalse(Exact.isPowerOfTwo(x), "not a power of two: " + x);
    }
  }

  @Test
  void loraWithPowerOfTwoScaleGivesThePlainFormulasBits() {
    int rows = 96;
    int in = 48;
    int out = 40;
    int rank = 4;
    float s = 8f;
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LoraLinear lin = new LoraLinear("q_proj", in, out, rank, s, 0, 3, Seeded.normal(0.5, 3, "w"), false);
      lin.initialize(m, DataType.FLOAT32, new Shape(rows, in));
      lin.setLoraB(randoms(out * rank, 4));
      float[] x = randoms(rows * in, 5);
      float[] w = lin.weight().getArray().toFloatArray();
      float[] a = lin.getLoraA();
      float[] b = lin.getLoraB();

      float[][] viaLayer;
      try (NDManager step = m.newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray xs = input(step, x, rows, in);
        NDArray y = lin.forward(new ParameterStore(step, false), new NDList(xs), true).head();
        gc.backward(y.mul(weights(step, rows, out)).sum());
        viaLayer = new float[][] {y.toFloatArray(), xs.getGradient().toFloatArray(),
            lin.getLoraA().length == 0 ? null : grad(lin, "A"), grad(lin, "B")};
      }
      float[][] plain;
      try (NDManager step = m.newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray xs = input(step, x, rows, in);
        NDArray wa = Owned.copy(step.create(w, new Shape(out, in)));
        NDArray aa = input(step, a, rank, in);
        NDArray ba = input(step, b, out, rank);
        NDArray xab = Linear.linear(Linear.linear(xs, aa).head(), ba).head();
        NDArray y = Linear.linear(xs, wa).head().add(xab.mul(Owned.scalar(xab, s)));
        gc.backward(y.mul(weights(step, rows, out)).sum());
        plain = new float[][] {y.toFloatArray(), xs.getGradient().toFloatArray(), aa.getGradient().toFloatArray(),
            ba.getGradient().toFloatArray()};
      }
      String[] what = {"y", "dx", "dA", "dB"};
      for (int i = 0; i < what.length; i++) {
        assertArrayEquals(plain[i], viaLayer[i], 0f, what[i]);
      }
    }
  }

  @Test
  void lossGatheredBeforeDroppingTheLastPositionGivesTheSlicedLossBits() {
    int b = 2;
    int l = 9;
    int v = 300;
    long[] labels = new long[b * l];
    SplittableRandom rng = new SplittableRandom(6);
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i % l < 2 || i == labels.length - 3 ? CausalLmEncoder.IGNORE_INDEX : rng.nextInt(v);
    }
    float[] logits = randoms(b * l * v, 7);
    float[][] now;
    float[][] sliced;
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray z = input(m, logits, b, l, v);
        NDArray[] sc = CausalLmLoss.sumAndCount(z, Owned.copy(m.create(labels, new Shape(b, l))));
        gc.backward(sc[0]);
        now = new float[][] {{sc[0].getFloat(), sc[1].getFloat()}, z.getGradient().toFloatArray()};
      }
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray z = input(m, logits, b, l, v);
        NDArray target = Owned.copy(m.create(labels, new Shape(b, l))).get(":, 1:" + l);
        NDArray keep = target.neq(CausalLmEncoder.IGNORE_INDEX);
        NDArray safe = target.mul(keep.toType(DataType.INT64, false));
        NDArray logp = z.get(":, 0:" + (l - 1) + ", :").logSoftmax(-1).gather(safe.expandDims(-1), -1).squeeze(-1);
        NDArray w = keep.toType(DataType.FLOAT32, false);
        NDArray sum = logp.mul(w).sum().neg();
        gc.backward(sum);
        sliced = new float[][] {{sum.getFloat(), w.sum().getFloat()}, z.getGradient().toFloatArray()};
      }
    }
    assertArrayEquals(sliced[0], now[0], 0f, "loss sum and count");
    assertArrayEquals(sliced[1], now[1], 0f, "d loss / d logits");
    assertEquals(b * (l - 1) - 2 * (2 - 1) - 1, Math.round(now[0][1]), "labelled positions");
  }

  private static float[] grad(LoraLinear lin, String which) {
    return (which.equals("A") ? lin.getParameters().get("lora_A") : lin.getParameters().get("lora_B"))
        .getArray().getGradient().toFloatArray();
  }

  private static NDArray input(NDManager m, float[] values, long... shape) {
    NDArray x = Owned.copy(m.create(values, new Shape(shape)));
    x.setRequiresGradient(true);
    return x;
  }

  private static NDArray weights(NDManager m, int rows, int cols) {
    return Owned.copy(m.create(randoms(rows * cols, 11), new Shape(rows, cols)));
  }

  private static float[] randoms(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return f;
  }
}
