package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import dev.loraone.data.CausalLmEncoder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The chunked head loss ({@link CausalLmLoss#fromHidden}) against a double-precision reference written from
 * the definition (shifted next-token cross-entropy, -100 ignored) and against autograd through the whole
 * logits: the loss and its gradient wrt the hidden states, for any chunk size.
 */
class CausalLmLossTest {
  private static final int B = 2;
  private static final int L = 7;
  private static final int H = 12;
  private static final int V = 29;
  private static final long[] LABELS = {
      -100, -100, 5, 17, 3, 28, 0, // prompt masked
      -100, 9, 9, 1, -100, 22, 4}; // a masked position mid-row

  @Test
  void lossAndHiddenGradientMatchTheDefinitionForEveryChunkSize() {
    float[] h = randoms(B * L * H, 1, 2.0);
    float[] e = randoms(V * H, 2, 0.5);
    double[] ref = new double[B * L * H];
    double refLoss = reference(h, e, LABELS, ref);
    for (int rows : new int[] {1, 3, 5, B * L, 1000}) {
      try (NDManager m = NDManager.newBaseManager("PyTorch")) {
        NDArray hidden = m.create(h, new Shape(B, L, H));
        hidden.setRequiresGradient(true);
        NDArray head = m.create(e, new Shape(V, H));
        NDArray labels = m.create(LABELS, new Shape(B, L));
        float loss;
        float count;
        float[] grad;
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          NDArray[] sc = CausalLmLoss.fromHidden(hidden, head, labels, true, rows);
          loss = sc[0].getFloat();
          count = sc[1].getFloat();
          gc.backward(sc[0]);
          grad = hidden.getGradient().toFloatArray();
        }
        assertEquals(10f, count, "labelled next tokens");
        assertEquals(refLoss, loss, 1e-5 * Math.abs(refLoss), "loss, " + rows + " rows per chunk");
        for (int i = 0; i < grad.length; i++) {
          assertEquals(ref[i], grad[i], 1e-5, "dL/dh[" + i + "], " + rows + " rows per chunk");
        }
        NDArray[] noGraph = CausalLmLoss.fromHidden(hidden.stopGradient(), head, labels, false, rows);
        assertEquals(loss, noGraph[0].getFloat(), "the loss without a graph has the same bits");
      }
    }
  }

  @Test
  void agreesWithAutogradThroughTheWholeLogits() {
    float[] h = randoms(B * L * H, 3, 2.0);
    float[] e = randoms(V * H, 4, 0.5);
    float[][] chunked = lossAndGradient(h, e, true);
    float[][] whole = lossAndGradient(h, e, false);
    assertEquals(whole[0][0], chunked[0][0], 1e-5 * Math.abs(whole[0][0]));
    assertArrayEquals(whole[1], chunked[1], 1e-5f);
  }

  @Test
  void aBatchWithoutLabelsHasNoLossAndNoGradient() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray hidden = m.create(randoms(B * L * H, 5, 1.0), new Shape(B, L, H));
      hidden.setRequiresGradient(true);
      long[] none = new long[B * L];
      java.util.Arrays.fill(none, CausalLmEncoder.IGNORE_INDEX);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray[] sc = CausalLmLoss.fromHidden(hidden, m.create(randoms(V * H, 6, 0.5), new Shape(V, H)),
            m.create(none, new Shape(B, L)), true, 4);
        assertEquals(0.0, Math.abs(sc[0].getFloat()), "no loss");
        assertEquals(0f, sc[1].getFloat());
        gc.backward(sc[0]);
        for (float g : hidden.getGradient().toFloatArray()) assertTrue(g == 0f, "no gradient: " + g);
      }
    }
  }

  private static float[][] lossAndGradient(float[] h, float[] e, boolean chunked) {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray hidden = m.create(h, new Shape(B, L, H));
      hidden.setRequiresGradient(true);
      NDArray head = m.create(e, new Shape(V, H));
      NDArray labels = m.create(LABELS, new Shape(B, L));
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray[] sc = chunked ? CausalLmLoss.fromHidden(hidden, head, labels, true, 4)
            : CausalLmLoss.sumAndCount(Linear.linear(hidden, head).head(), labels);
        float loss = sc[0].getFloat();
        gc.backward(sc[0]);
        return new float[][] {{loss}, hidden.getGradient().toFloatArray()};
      }
    }
  }

  /** Sum over b, t < L-1 with label[b,t+1] != -100 of -log softmax(h[b,t] E^T)[label]; fills dL/dh. */
  private static double reference(float[] h, float[] e, long[] labels, double[] grad) {
    double loss = 0;
    for (int b = 0; b < B; b++) {
      for (int t = 0; t + 1 < L; t++) {
        long y = labels[b * L + t + 1];
        if (y == CausalLmEncoder.IGNORE_INDEX) continue;
        int row = (b * L + t) * H;
        double[] z = new double[V];
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < V; v++) {
          for (int k = 0; k < H; k++) z[v] += (double) h[row + k] * e[v * H + k];
          max = Math.max(max, z[v]);
        }
        double sum = 0;
        for (int v = 0; v < V; v++) sum += Math.exp(z[v] - max);
        loss += max + Math.log(sum) - z[(int) y];
        for (int v = 0; v < V; v++) {
          double p = Math.exp(z[v] - max) / sum - (v == y ? 1 : 0);
          for (int k = 0; k < H; k++) grad[row + k] += p * e[v * H + k];
        }
      }
    }
    assertTrue(loss > 0);
    return loss;
  }

  private static float[] randoms(int n, long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) (scale * (2 * r.nextDouble() - 1));
    return x;
  }
}
