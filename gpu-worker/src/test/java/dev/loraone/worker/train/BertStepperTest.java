package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.nn.Parameter;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.BertConfig;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The DJL gradients agree with the chain rule through the adapter: with the full gradient
 * {@code G = dL/dW} at the same point, {@code dL/dA = s B^T G} and {@code dL/dB = s G A^T}.
 * This ties LoRA mode and full-gradient mode together without any reference implementation.
 */
class BertStepperTest {
  private static final String Q0 = "encoder.layer.0.attention.self.query";

  private static BertConfig tiny() {
    return new BertConfig(40, 16, 2, 2, 32, 16, 2, 1e-12);
  }

  private static ClassificationBatch batch() {
    long[] ids = {2, 7, 9, 4, 3, 2, 5, 1, 0, 0};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    return new ClassificationBatch(0, new TokenBatch(2, 5, ids, mask, new long[10]), new int[] {0, 2});
  }

  private static float[] randoms(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() - 0.5);
    return f;
  }

  @Test
  void loraGradientsFollowTheChainRuleFromTheFullGradient() {
    int r = 2;
    BertLoraModel model = BertLoraModel.create(tiny(), LoraConfig.of(r, 4, false, 0.0, 3, "query,value"),
        new BertLoraModel.Head.Classification(3));
    try (BertStepper stepper = new BertStepper(model)) {
      model.setLoraA(Q0, randoms(r * 16, 1));
      model.setLoraB(Q0, randoms(16 * r, 2));
      float s = model.linear(Q0).scaling();
      BertStepper.FullGradients full = stepper.fullGradients(batch());
      BertStepper.LoraGradients lora = stepper.loraGradients(batch(), 0);
      assertEquals(full.loss(), lora.loss(), 1e-6, "same forward in both modes");
      float[] g = full.weights().get(Q0);
      float[] a = model.getLoraA(Q0);
      float[] b = model.getLoraB(Q0);
      float[][] ab = lora.adapters().get(Q0);
      double[] wantA = new double[r * 16];
      double[] wantB = new double[16 * r];
      for (int i = 0; i < r; i++)
        for (int j = 0; j < 16; j++)
          for (int o = 0; o < 16; o++) wantA[i * 16 + j] += s * b[o * r + i] * g[o * 16 + j]; // s B^T G
      for (int o = 0; o < 16; o++)
        for (int i = 0; i < r; i++)
          for (int j = 0; j < 16; j++) wantB[o * r + i] += s * g[o * 16 + j] * a[i * 16 + j]; // s G A^T
      double scale = 0;
      for (double v : wantA) scale = Math.max(scale, Math.abs(v));
      for (double v : wantB) scale = Math.max(scale, Math.abs(v));
      assertTrue(scale > 0, "the check is not vacuous: gradients are non-zero");
      double tol = 1e-4 * scale; // float32 sums of 16 products, relative to the largest entry
      for (int k = 0; k < wantA.length; k++) assertEquals(wantA[k], ab[0][k], tol, "dL/dA[" + k + "]");
      for (int k = 0; k < wantB.length; k++) assertEquals(wantB[k], ab[1][k], tol, "dL/dB[" + k + "]");
    }
  }

  @Test
  void fullGradientModeKeepsGradientsOnAdaptedBaseWeightsOnly() {
    BertLoraModel model = BertLoraModel.create(tiny(), LoraConfig.of(2, 4, false, 0.0, 3, "query,value"),
        new BertLoraModel.Head.Classification(3));
    try (BertStepper stepper = new BertStepper(model)) {
      model.fullGradientMode();
      for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
        assertFalse(e.getValue().requiresGradient(), e.getKey() + ": W's gradient goes to a private copy");
      }
      for (String m : model.adapters().linearModules()) {
        boolean target = m.endsWith(".query") || m.endsWith(".value");
        assertEquals(target, model.linear(m).takesWeightGradient(), m);
      }
      BertStepper.FullGradients g = stepper.fullGradients(batch());
      assertEquals(model.adaptedModules(), java.util.List.copyOf(g.weights().keySet()));
      assertFalse(model.linear(Q0).takesWeightGradient(), "back in LoRA mode afterwards");
      assertTrue(model.namedParameters().get(Q0 + ".lora_A.weight").requiresGradient());
      assertFalse(model.namedParameters().get(Q0 + ".weight").getArray().hasGradient(), "W itself took no gradient");
    }
  }

  @Test
  void gradientsDoNotAccumulateAcrossCalls() {
    BertLoraModel model = BertLoraModel.create(tiny(), LoraConfig.of(2, 4, false, 0.0, 3, "query"),
        new BertLoraModel.Head.Classification(3));
    try (BertStepper stepper = new BertStepper(model)) {
      model.setLoraB(Q0, randoms(32, 5));
      float[][] first = stepper.loraGradients(batch(), 0).adapters().get(Q0);
      float[][] second = stepper.loraGradients(batch(), 0).adapters().get(Q0);
      assertArrayEquals(first[0], second[0], "same micro-batch twice gives the same gradient, not double");
      assertArrayEquals(
          stepper.fullGradients(batch()).weights().get(Q0),
          stepper.fullGradients(batch()).weights().get(Q0));
    }
  }
}
