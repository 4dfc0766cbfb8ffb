package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.nn.Parameter;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaConfig;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The DJL gradients of the causal LM agree with the chain rule through the adapter: with the full
 * gradient {@code G = dL/dW} at the same point, {@code dL/dA = s B^T G} and {@code dL/dB = s G A^T}
 * (as {@link BertStepperTest}), on a right-padded batch with the prompt masked out of the loss.
 */
class LlamaStepperTest {
  private static final String Q0 = "model.layers.0.self_attn.q_proj";
  private static final String DOWN1 = "model.layers.1.mlp.down_proj";
  private static final long I = -100;

  /** Row 0: BOS, 3 prompt tokens, 3 completion tokens + EOS; row 1: BOS, 2 prompt, 2 completion + EOS, 2 padding. */
  private static CausalLmBatch batch() {
    long[] ids = {1, 5, 17, 3, 44, 28, 9, 2, 1, 12, 40, 7, 22, 2, 0, 0};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    long[] labels = {I, I, I, I, 44, 28, 9, 2, I, I, I, 7, 22, 2, I, I};
    return new CausalLmBatch(2, 8, ids, mask, labels);
  }

  private static LlamaLoraModel model(String targets) throws IOException {
    Spec spec = Spec.tiny(false);
    LlamaConfig config = LlamaConfig.fromJson(LlamaFixture.config(spec).toString());
    Map<String, long[]> shapes = LlamaFixture.shapes(spec);
    Map<String, FloatTensor> weights = new LinkedHashMap<>();
    LlamaFixture.randomWeights(spec, 21).forEach((name, v) -> weights.put(name, new FloatTensor(shapes.get(name), v)));
    return LlamaLoraModel.fromPretrained(config, LoraConfig.of(2, 4, false, 0.0, 3, targets), weights);
  }

  private static float[] randoms(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() - 0.5);
    return f;
  }

  @Test
  void loraGradientsFollowTheChainRuleFromTheFullGradient() throws IOException {
    LlamaLoraModel model = model("q_proj,down_proj");
    try (LlamaStepper stepper = new LlamaStepper(model)) {
      for (String m : List.of(Q0, DOWN1)) {
        model.setLoraA(m, randoms(model.getLoraA(m).length, m.hashCode()));
        model.setLoraB(m, randoms(model.getLoraB(m).length, m.hashCode() + 1L));
      }
      LlamaStepper.FullGradients full = stepper.fullGradients(batch());
      LlamaStepper.LoraGradients lora = stepper.loraGradients(batch(), 0);
      assertEquals(4 + 3, full.tokens(), "completion and EOS tokens only");
      assertEquals(full.tokens(), lora.tokens());
      assertEquals(full.lossSum(), lora.lossSum(), 1e-4, "same forward in both modes");
      for (String m : List.of(Q0, DOWN1)) {
        assertChainRule(model, m, full.weights().get(m), lora.adapters().get(m));
      }
    }
  }

  /**
   * The streamed one-step gradient: each module's goes to the sink in module order, its native view and
   * gradient already freed (the later modules' not yet), scaled by {@code 1f / tokens} from the map
   * form's bits; the pass ends with every module out of full-gradient mode.
   */
  @Test
  void meanGradientsStreamEachModuleFreedAsReadAndScaledPerToken() throws IOException {
    LlamaLoraModel model = model("q_proj,down_proj");
    List<String> modules = List.of(Q0, DOWN1);
    try (LlamaStepper stepper = new LlamaStepper(model)) {
      LlamaStepper.FullGradients full = stepper.fullGradients(batch(), modules);
      float perToken = 1f / full.tokens();
      List<String> seen = new ArrayList<>();
      LlamaStepper.FullLoss f = stepper.meanGradients(batch(), modules, (m, v) -> {
        seen.add(m);
        assertFalse(model.linear(m).takesWeightGradient(), m + " is freed before the sink sees it");
        modules.subList(seen.size(), modules.size())
            .forEach(later -> assertTrue(model.linear(later).takesWeightGradient(), later + " is not read yet"));
        float[] want = full.weights().get(m).clone();
        for (int k = 0; k < want.length; k++) want[k] *= perToken;
        assertArrayEquals(want, v, m);
      });
      assertEquals(modules, seen);
      assertEquals(full.lossSum(), f.lossSum());
      assertEquals(full.tokens(), f.tokens());
      modules.forEach(m -> assertFalse(model.linear(m).takesWeightGradient(), m));
    }
  }

  private static void assertChainRule(LlamaLoraModel model, String m, float[] g, float[][] ab) {
    int r = model.linear(m).rank();
    int in = model.linear(m).inFeatures();
    int out = model.linear(m).outFeatures();
    float s = model.linear(m).scaling();
    float[] a = model.getLoraA(m);
    float[] b = model.getLoraB(m);
    double[] wantA = new double[r * in];
    double[] wantB = new double[out * r];
    for (int i = 0; i < r; i++)
      for (int j = 0; j < in; j++)
        for (int o = 0; o < out; o++) wantA[i * in + j] += s * b[o * r + i] * g[o * in + j]; // s B^T G
    for (int o = 0; o < out; o++)
      for (int i = 0; i < r; i++)
        for (int j = 0; j < in; j++) wantB[o * r + i] += s * g[o * in + j] * a[i * in + j]; // s G A^T
    double scale = 0;
    for (double v : wantA) scale = Math.max(scale, Math.abs(v));
    for (double v : wantB) scale = Math.max(scale, Math.abs(v));
    assertTrue(scale > 1e-3, m + ": the check is not vacuous, gradients are " + scale);
    double tol = 1e-4 * scale; // float32 sums of <= 64 products, relative to the largest entry
    for (int k = 0; k < wantA.length; k++) assertEquals(wantA[k], ab[0][k], tol, m + " dL/dA[" + k + "]");
    for (int k = 0; k < wantB.length; k++) assertEquals(wantB[k], ab[1][k], tol, m + " dL/dB[" + k + "]");
  }

  @Test
  void fullGradientModeKeepsGradientsOnAdaptedBaseWeightsOnly() throws IOException {
    LlamaLoraModel model = model("q_proj,v_proj");
    try (LlamaStepper stepper = new LlamaStepper(model)) {
      model.fullGradientMode();
      for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
        assertFalse(e.getValue().requiresGradient(), e.getKey() + ": W's gradient goes to a private copy");
      }
      for (String m : model.adapters().linearModules()) {
        assertEquals(m.endsWith("q_proj") || m.endsWith("v_proj"), model.linear(m).takesWeightGradient(), m);
      }
      LlamaStepper.FullGradients g = stepper.fullGradients(batch());
      assertEquals(model.adaptedModules(), List.copyOf(g.weights().keySet()));
      assertFalse(model.linear(Q0).takesWeightGradient(), "back in LoRA mode afterwards");
      assertFalse(model.namedParameters().get(Q0 + ".weight").getArray().hasGradient(), "W itself took no gradient");
      assertTrue(model.namedParameters().get(Q0 + ".lora_A.weight").requiresGradient());
    }
  }

  @Test
  void gradientsDoNotAccumulateAndUnlabelledBatchesGiveZeros() throws IOException {
    LlamaLoraModel model = model("q_proj");
    try (LlamaStepper stepper = new LlamaStepper(model)) {
      model.setLoraB(Q0, randoms(model.getLoraB(Q0).length, 5));
      float[][] first = stepper.loraGradients(batch(), 0).adapters().get(Q0);
      float[][] second = stepper.loraGradients(batch(), 0).adapters().get(Q0);
      assertArrayEquals(first[0], second[0], "same micro-batch twice gives the same gradient, not double");
      assertArrayEquals(
          stepper.fullGradients(batch()).weights().get(Q0),
          stepper.fullGradients(batch()).weights().get(Q0));

      CausalLmBatch b = batch();
      long[] none = new long[b.labels().length];
      java.util.Arrays.fill(none, I);
      CausalLmBatch promptOnly = new CausalLmBatch(2, 8, b.inputIds(), b.attentionMask(), none);
      LlamaStepper.LoraGradients g = stepper.loraGradients(promptOnly, 0);
      assertEquals(0, g.tokens());
      assertArrayEquals(new float[first[0].length], g.adapters().get(Q0)[0], "no labelled token, no gradient");
      LlamaStepper.Evaluation e = stepper.evaluate(batch());
      assertEquals(7, e.tokens());
      assertTrue(e.lossSum() > 0);
    }
  }
}
