package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.train.LlamaStepper;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Activation checkpointing changes memory, never bits: LoRA gradients (with adapter dropout),
 * full gradients of the adapted base weights and, with every parameter training, the gradients of
 * a tied embedding (fed by the head and the lookup in two backward calls) equal the plain path's
 * exactly, on a tiny random Llama, tied and untied. Exact equality, no tolerance: the checkpointed
 * backward runs the same float operations.
 */
class CheckpointedPassTest {
  private static final long I = -100;

  /** Row 0: BOS, 3 prompt tokens, 3 completion tokens + EOS; row 1: 2 completion tokens + EOS, 2 padding. */
  private static CausalLmBatch batch() {
    long[] ids = {1, 5, 17, 3, 44, 28, 9, 2, 1, 12, 40, 7, 22, 2, 0, 0};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    long[] labels = {I, I, I, I, 44, 28, 9, 2, I, I, I, 7, 22, 2, I, I};
    return new CausalLmBatch(2, 8, ids, mask, labels);
  }

  /** All-linear LoRA r=2 with dropout 0.25, seeded random base weights and random A and B (so B != 0). */
  private static LlamaLoraModel model(boolean tied) throws IOException {
    Spec spec = Spec.tiny(tied);
    LlamaConfig config = LlamaConfig.fromJson(LlamaFixture.config(spec).toString());
    Map<String, long[]> shapes = LlamaFixture.shapes(spec);
    Map<String, FloatTensor> weights = new LinkedHashMap<>();
    LlamaFixture.randomWeights(spec, 21).forEach((name, v) -> weights.put(name, new FloatTensor(shapes.get(name), v)));
    return LlamaLoraModel.fromPretrained(config, LoraConfig.of(2, 4, false, 0.25, 3, LoraConfig.ALL_LINEAR), weights);
  }

  private static void randomAdapters(LlamaLoraModel model) {
    for (String m : model.adaptedModules()) {
      model.setLoraA(m, randoms(model.getLoraA(m).length, m.hashCode()));
      model.setLoraB(m, randoms(model.getLoraB(m).length, m.hashCode() + 1L));
    }
  }

  private static float[] randoms(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() - 0.5);
    return f;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void loraAndFullGradientsAreBitIdenticalToThePlainPath(boolean tied) throws Exception {
    LlamaLoraModel plainModel = model(tied);
    LlamaLoraModel ckptModel = model(tied);
    try (LlamaStepper plain = new LlamaStepper(plainModel, Device.cpu(), false);
        LlamaStepper ckpt = new LlamaStepper(ckptModel, Device.cpu(), true)) {
      randomAdapters(plainModel);
      randomAdapters(ckptModel);
      for (long seed : new long[] {5, 6}) { // two micro-batches: dropout masks differ, nothing accumulates
        LlamaStepper.LoraGradients p = plain.loraGradients(batch(), seed);
        LlamaStepper.LoraGradients c = ckpt.loraGradients(batch(), seed);
        assertEquals(p.lossSum(), c.lossSum());
        assertEquals(p.tokens(), c.tokens());
        double largest = 0;
        for (String m : plainModel.adaptedModules()) {
          assertArrayEquals(p.adapters().get(m)[0], c.adapters().get(m)[0], m + " dL/dA, seed " + seed);
          assertArrayEquals(p.adapters().get(m)[1], c.adapters().get(m)[1], m + " dL/dB, seed " + seed);
          for (float v : p.adapters().get(m)[0]) largest = Math.max(largest, Math.abs(v));
        }
        assertTrue(largest > 1e-4, "the comparison is not vacuous: largest |dL/dA| " + largest);
      }
      LlamaStepper.FullGradients p = plain.fullGradients(batch());
      LlamaStepper.FullGradients c = ckpt.fullGradients(batch());
      assertEquals(p.lossSum(), c.lossSum());
      for (String m : plainModel.adaptedModules()) {
        assertArrayEquals(p.weights().get(m), c.weights().get(m), m + " dL/dW");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void everyParameterGradientIsBitIdenticalWhenAllTrain(boolean tied) throws IOException {
    Map<String, float[]> plain = allGradients(tied, false);
    Map<String, float[]> ckpt = allGradients(tied, true);
    assertEquals(plain.keySet(), ckpt.keySet());
    plain.forEach((name, g) -> assertArrayEquals(g, ckpt.get(name), name));
    float[] embedding = plain.get("model.embed_tokens.weight");
    assertTrue(embedding[5 * 32] != 0, "the embedding trains (row of token 5)");
  }

  /**
   * The checkpointed one-step gradient streams: a layer's modules reach the sink as soon as that layer's
   * backward is done, top layer first (the layer below not yet computed), with the plain path's bits
   * times 1/tokens; a group of upper-layer modules recomputes only down to its lowest layer.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void oneStepGradientsStreamLayerByLayer(boolean tied) throws IOException {
    String q0 = "model.layers.0.self_attn.q_proj";
    String down1 = "model.layers.1.mlp.down_proj";
    String up1 = "model.layers.1.mlp.up_proj";
    List<String> modules = List.of(q0, up1, down1);
    LlamaLoraModel plainModel = model(tied);
    LlamaLoraModel ckptModel = model(tied);
    try (LlamaStepper plain = new LlamaStepper(plainModel, Device.cpu(), false);
        LlamaStepper ckpt = new LlamaStepper(ckptModel, Device.cpu(), true)) {
      Map<String, float[]> want = new LinkedHashMap<>();
      LlamaStepper.FullLoss p = plain.meanGradients(batch(), modules, want::put);
      assertEquals(modules, List.copyOf(want.keySet()), "a plain backward hands them in module order");
      List<String> seen = new ArrayList<>();
      LlamaStepper.FullLoss c = ckpt.meanGradients(batch(), modules, (m, v) -> {
        seen.add(m);
        assertTrue(ckptModel.linear(q0).takesWeightGradient() == !m.equals(q0), m + ": layer 0 is read last");
        assertArrayEquals(want.get(m), v, m + " dL/dW / tokens");
      });
      assertEquals(List.of(up1, down1, q0), seen, "layer 1's modules (in layer order), then layer 0's");
      assertEquals(p.lossSum(), c.lossSum());
      assertTrue(want.get(q0)[0] != 0, "the comparison is not vacuous");
    }
    // only layer 1 takes a gradient: the backward does not recompute layer 0
    LlamaLoraModel model = model(tied);
    try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      model.initialize(manager);
      model.fullGradientMode(List.of(down1));
      ParameterStore ps = new ParameterStore(manager, false);
      try (NDManager step = manager.newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector();
          CheckpointedPass pass = model.forwardCheckpointed(ps, LlamaLoraModel.inputs(step, batch()),
              CausalLmLoss.labels(step, batch()))) {
        List<Integer> done = new ArrayList<>();
        pass.backward(pass.loss()[0], done::add);
        assertEquals(List.of(1), done);
        assertTrue(model.linear(down1).weightGradient()[0] != 0, "layer 1 has its gradient");
      } finally {
        model.freezeBase();
      }
    }
  }

  /** Every parameter unfrozen: one training forward (summed token loss) and backward; gradients by name. */
  private static Map<String, float[]> allGradients(boolean tied, boolean checkpointing) throws IOException {
    LlamaLoraModel model = model(tied);
    try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      model.initialize(manager);
      randomAdapters(model);
      model.unfreezeAll();
      model.setDropoutSeed(9);
      ParameterStore ps = new ParameterStore(manager, false);
      try (NDManager step = manager.newSubManager()) {
        NDList in = LlamaLoraModel.inputs(step, batch());
        NDArray labels = CausalLmLoss.labels(step, batch());
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          if (checkpointing) {
            try (CheckpointedPass pass = model.forwardCheckpointed(ps, in, labels)) {
              pass.backward(pass.loss()[0]);
            }
          } else {
            gc.backward(model.loss(ps, in, labels, true)[0]);
          }
        }
        Map<String, float[]> grads = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
          grads.put(e.getKey(), e.getValue().getArray().getGradient().toFloatArray());
        }
        return grads;
      }
    }
  }
}
