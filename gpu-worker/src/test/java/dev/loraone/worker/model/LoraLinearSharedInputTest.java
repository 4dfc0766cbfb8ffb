package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link LoraLinear#forwardShared}: layers reading one input (q, k, v; gate, up) give the outputs and
 * the per-layer gradients of A, B and the input that separate forwards give, whether their rank-r
 * products share one concatenated A (fused) or not (dropout in training, unequal scales).
 */
class LoraLinearSharedInputTest {

  private static final int IN = 24;
  private static final int[] OUT = {20, 8, 8};
  private static final int RANK = 4;
  // float32 products of ~24 terms of magnitude ~1-10 in another summation order: ~1e-6 relative
  private static final double RTOL = 1e-5;

  @Test
  void fusedAdapterProductGivesTheSeparateOutputsAndEveryLayersGradients() {
    Result separate = run(false, 2f, 2f, 0);
    Result shared = run(true, 2f, 2f, 0);
    assertTrue(shared.fused, "equal power-of-two scales and no dropout: one product of the concatenated A");
    assertClose(separate.values, shared.values);
    double largestDa = 0;
    for (int i = 0; i < OUT.length; i++) {
      for (float v : separate.values.get(OUT.length + 1 + 2 * i)) {
        largestDa = Math.max(largestDa, Math.abs(v));
      }
    }
    assertTrue(largestDa > 1e-2, "the comparison is not vacuous: largest |dL/dA| " + largestDa);
  }

  @Test
  void unequalScalesOrTrainingDropoutKeepTheSeparateProductsBitForBit() {
    Result scales = run(true, 2f, 4f, 0);
    assertEquals(false, scales.fused);
    assertBits(run(false, 2f, 4f, 0).values, scales.values);
    Result dropout = run(true, 2f, 2f, 0.25);
    assertEquals(false, dropout.fused);
    assertBits(run(false, 2f, 2f, 0.25).values, dropout.values);
  }

  private record Result(boolean fused, List<float[]> values) {}

  /**
   * Outputs, then dL/dx, then dL/dA and dL/dB of each layer, with L = sum of the outputs times fixed
   * random weights; {@code scaleOfLast} is the scale of the last layer.
   */
  private static Result run(boolean shared, float scale, float scaleOfLast, double dropout) {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      List<LoraLinear> group = new ArrayList<>();
      for (int i = 0; i < OUT.length; i++) {
        String name = "model.layers.0.self_attn." + "qkv".charAt(i) + "_proj";
        LoraLinear lin = new LoraLinear(name, IN, OUT[i], RANK, i == OUT.length - 1 ? scaleOfLast : scale, dropout,
            5, Seeded.normal(0.5, 5, name + ".weight"), false);
        lin.initialize(m, DataType.FLOAT32, new Shape(1, 3, IN));
        lin.setLoraA(LoraLinearTest.randoms(RANK * IN, 10 + i));
        lin.setLoraB(LoraLinearTest.randoms(OUT[i] * RANK, 20 + i));
        group.add(lin);
      }
      boolean fused = shared && LoraLinear.fusable(group, true);
      List<float[]> values = new ArrayList<>();
      try (NDManager step = m.newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        ParameterStore ps = new ParameterStore(step, false);
        NDArray x = step.create(LoraLinearTest.randoms(3 * 5 * IN, 3), new Shape(3, 5, IN));
        x.setRequiresGradient(true);
        List<NDArray> ys = new ArrayList<>();
        if (shared) {
          ys.addAll(LoraLinear.forwardShared(ps, x, group, true, null));
        } else {
          for (LoraLinear lin : group) {
            ys.add(lin.forward(ps, new NDList(x), true, null).head());
          }
        }
        NDArray loss = step.zeros(new Shape());
        for (int i = 0; i < ys.size(); i++) {
          NDArray weights = step.create(LoraLinearTest.randoms(3 * 5 * OUT[i], 30 + i), new Shape(3, 5, OUT[i]));
          loss = loss.add(ys.get(i).mul(weights).sum());
          values.add(ys.get(i).toFloatArray());
        }
        gc.backward(loss);
        values.add(x.getGradient().toFloatArray());
        for (LoraLinear lin : group) {
          Map<String, Parameter> named = new HashMap<>();
          lin.collectParameters(named);
          values.add(named.get(lin.module() + ".lora_A.weight").getArray().getGradient().toFloatArray());
          values.add(named.get(lin.module() + ".lora_B.weight").getArray().getGradient().toFloatArray());
        }
      }
      return new Result(fused, values);
    }
  }

  private static void assertClose(List<float[]> expected, List<float[]> actual) {
    assertEquals(expected.size(), actual.size());
    for (int k = 0; k < expected.size(); k++) {
      float[] e = expected.get(k);
      float[] a = actual.get(k);
      assertEquals(e.length, a.length);
      for (int i = 0; i < e.length; i++) {
        assertEquals(e[i], a[i], RTOL * Math.max(1, Math.abs(e[i])), "value " + k + "[" + i + "]");
      }
    }
  }

  private static void assertBits(List<float[]> expected, List<float[]> actual) {
    assertEquals(expected.size(), actual.size());
    for (int k = 0; k < expected.size(); k++) {
      assertArrayEquals(expected.get(k), actual.get(k), "value " + k);
    }
  }
}
