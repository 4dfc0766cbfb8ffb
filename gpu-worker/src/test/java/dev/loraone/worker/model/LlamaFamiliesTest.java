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
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Rope;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Llama-architecture variants beyond plain Llama against the same independent {@link
 * LlamaReference}: Qwen2 (q/k/v biases as frozen base weights, tied embeddings, a sliding window
 * that is off) and scaled RoPE ({@code llama3} as in Llama 3.1/3.2, {@code linear}). Plain Llama,
 * SmolLM-shaped (tied, GQA) included, is {@link LlamaLoraModelTest}.
 */
class LlamaFamiliesTest {

  // As LlamaLoraModelTest: float32 vs double over 2 layers, logits O(1-10), round-off ~1e-6.
  private static final double ATOL = 1e-4;
  // Adapter-active vs merged: the same float32 maths in another association order.
  private static final double RTOL = 1e-5;
  private static final int B = 2;
  private static final int L = 7;
  // Row 0 has 7 tokens, row 1 has 4 then padding: longer than the qwen2 fixture's (unused) window of 4.
  private static final long[] IDS = {5, 17, 3, 44, 28, 9, 31, 12, 40, 7, 22, 0, 0, 0};
  private static final long[] MASK = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
  private static final Spec LLAMA3 = Spec.tiny(false).withRope(Rope.llama3());

  @Test
  void qwen2TiedCheckpointWithQkvBiasesMatchesReference(@TempDir Path dir) throws Exception {
    LlamaLoraModelTest.assertParity(dir, Spec.qwen2(true), DType.F32, false, "qwen2 tied, f32");
  }

  @Test
  void qwen2Bf16ShardedCheckpointMatchesReferenceOnTheRoundedWeights(@TempDir Path dir) throws Exception {
    LlamaLoraModelTest.assertParity(dir, Spec.qwen2(true), DType.BF16, true, "qwen2 tied, bf16, 2 shards");
  }

  @Test
  void llama3ScaledRopeMatchesReference(@TempDir Path dir) throws Exception {
    LlamaLoraModelTest.assertParity(dir, LLAMA3, DType.F32, false, "llama3 rope scaling");
  }

  @Test
  void linearScaledRopeMatchesReference(@TempDir Path dir) throws Exception {
    LlamaLoraModelTest.assertParity(dir, Spec.qwen2(false).withRope(Rope.linear(2.0)), DType.F32, false,
        "qwen2 untied, linear rope scaling");
  }

  /** The scaled frequencies are what the reference computes in double, and they change the logits. */
  @Test
  void llama3InverseFrequenciesEqualTheReferenceInEveryBandAndMatter() throws Exception {
    LlamaConfig config = LlamaConfig.fromJson(LlamaFixture.config(LLAMA3).toString());
    Map<String, float[]> w = LlamaFixture.randomWeights(LLAMA3, 3);
    LlamaReference scaled = new LlamaReference(LlamaLoraModelTest.dims(LLAMA3), w);
    LlamaReference plain = new LlamaReference(LlamaLoraModelTest.dims(Spec.tiny(false)), w);
    float[] inv = config.ropeInvFreq();
    double[] ratio = new double[inv.length];
    for (int e = 0; e < inv.length; e++) {
      double expected = scaled.frequency(e);
      // float32 vs double: a few ulp (~1e-7 relative) through pow, reciprocal and the smoothing mix.
      assertEquals(expected, inv[e], 1e-6 * expected, "inv_freq[" + e + "]");
      ratio[e] = inv[e] / plain.frequency(e);
    }
    System.out.println("LlamaFamiliesTest: llama3 inv_freq / plain = " + Arrays.toString(ratio));
    assertEquals(1.0, ratio[0], 1e-6, "high frequency kept");
    assertTrue(ratio[1] > 1 / 8.0 + 0.01 && ratio[1] < 0.99, "medium frequency smoothed: " + ratio[1]);
    assertEquals(1 / 8.0, ratio[2], 1e-6, "low frequency divided by factor");
    assertEquals(1 / 8.0, ratio[3], 1e-6, "low frequency divided by factor");
    int[] ones = new int[L];
    Arrays.fill(ones, 1);
    int[] ids = LlamaLoraModelTest.row(IDS, 0, L);
    double change = 0;
    double[][] a = scaled.logits(ids, ones);
    double[][] b = plain.logits(ids, ones);
    for (int t = 0; t < L; t++) {
      for (int v = 0; v < a[t].length; v++) {
        change = Math.max(change, Math.abs(a[t][v] - b[t][v]));
      }
    }
    assertTrue(change > 100 * ATOL, "the scaling changes the logits, so parity tests it: " + change);
  }

  @Test
  void kvCacheGreedyEqualsFullForwardAndReferenceForQwen2AndLlama3(@TempDir Path dir) throws Exception {
    for (Spec spec : List.of(Spec.qwen2(true), LLAMA3)) {
      Path ckpt = dir.resolve(spec.modelType() + (spec.rope().type() == null ? "" : "-" + spec.rope().type()));
      // Seeds whose reference greedy path has no near-tie (a top-2 gap above 10 x ATOL at every step).
      Map<String, float[]> weights = LlamaFixture.write(ckpt, spec, spec.qkvBias() ? 12 : 13, DType.F32, false);
      LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(ckpt), LoraConfig.none());
      int[] prompt = {1, 23, 8, 41, 16};
      int steps = 20; // positions up to 24: past the llama3 fixture's original 32 / high 4 and qwen2's window
      double[] minGap = new double[1];
      int[] reference = new LlamaReference(LlamaLoraModelTest.dims(spec), weights).greedy(prompt, steps, -1, minGap);
      assertTrue(minGap[0] > 10 * ATOL, "reference top-2 logit gap " + minGap[0] + " too small for an exact check");
      try (NDManager m = NDManager.newBaseManager("PyTorch")) {
        model.initialize(m);
        int[] cached = model.generate(prompt, steps, -1);
        System.out.println("LlamaFamiliesTest: " + ckpt.getFileName() + " greedy " + Arrays.toString(cached));
        assertArrayEquals(LlamaLoraModelTest.greedyWithoutCache(model, m, prompt, steps), cached, "cache vs full");
        assertArrayEquals(reference, cached, "DJL vs reference greedy, " + ckpt.getFileName());
      }
    }
  }

  @Test
  void qwen2AdaptersActiveMergedAndUnmergedAgreeMatchTheReferenceAndLeaveBiasesAlone(@TempDir Path dir)
      throws Exception {
    Spec spec = Spec.qwen2(false);
    Map<String, float[]> weights = LlamaFixture.write(dir, spec, 14, DType.F32, false);
    LoraConfig lora = LoraConfig.of(4, 8, false, 0, 3, LoraConfig.ALL_LINEAR);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(dir), lora);
    String q0 = "model.layers.0.self_attn.q_proj";
    assertTrue(model.linear(q0).hasBias() && model.linear("model.layers.0.self_attn.v_proj").hasBias());
    assertFalse(model.linear("model.layers.0.self_attn.o_proj").hasBias(), "Qwen2's o_proj has no bias");
    assertFalse(model.linear("model.layers.0.mlp.up_proj").hasBias());
    Map<String, float[]> merged = new HashMap<>(weights);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      Random r = new Random(15);
      for (String module : model.adaptedModules()) {
        LoraLinear lin = model.linear(module);
        float[] a = LlamaLoraModelTest.gaussians(r, 4 * lin.inFeatures(), 0.3);
        float[] b = LlamaLoraModelTest.gaussians(r, lin.outFeatures() * 4, 0.3);
        model.setLoraA(module, a);
        model.setLoraB(module, b);
        merged.put(module + ".weight",
            LlamaLoraModelTest.mergedWeight(weights.get(module + ".weight"), a, b, lin, lora.scaling()));
      }
      float[] active = LlamaLoraModelTest.logits(model, m, IDS, MASK, B, L);
      model.mergeAdapters();
      float[] mergedLogits = LlamaLoraModelTest.logits(model, m, IDS, MASK, B, L);
      assertArrayEquals(weights.get(q0 + ".bias"), model.namedParameters().get(q0 + ".bias").getArray()
          .toFloatArray(), "merging folds s*B*A into the weight only");
      model.unmergeAdapters();
      for (int i = 0; i < active.length; i++) {
        assertEquals(active[i], mergedLogits[i], RTOL * Math.max(1, Math.abs(active[i])), "merged[" + i + "]");
      }
      LlamaReference ref = new LlamaReference(LlamaLoraModelTest.dims(spec), merged);
      double maxDiff = 0;
      for (int b = 0; b < B; b++) {
        double[][] expected = ref.logits(LlamaLoraModelTest.row(IDS, b, L), LlamaLoraModelTest.row(MASK, b, L));
        for (int t = 0; t < L; t++) {
          for (int v = 0; v < spec.vocab(); v++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - active[(b * L + t) * spec.vocab() + v]));
          }
        }
      }
      System.out.printf("LlamaFamiliesTest: qwen2 adapter-active vs reference with W+sBA max |diff| = %.3e%n",
          maxDiff);
      assertTrue(maxDiff <= ATOL, "max |diff| " + maxDiff);
    }
  }

  @Test
  void qwen2LoraStepsMoveOnlyAdaptersNeverTheBiases(@TempDir Path dir) throws Exception {
    LlamaFixture.write(dir, Spec.qwen2(false), 16, DType.F32, false);
    LlamaLoraModel net = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(dir),
        LoraConfig.of(2, 4, false, 0, 5, "q_proj,k_proj,v_proj"));
    long[] labels = {-100, -100, 3, 44, 28, 9, 31, -100, -100, 7, 22, -100, -100, -100};
    DefaultTrainingConfig cfg = new DefaultTrainingConfig(new CausalLmLoss())
        .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(5e-2f)).build());
    String k1 = "model.layers.1.self_attn.k_proj";
    try (Model model = Model.newInstance("qwen2-lora", "PyTorch")) {
      model.setBlock(net);
      try (Trainer trainer = model.newTrainer(cfg)) {
        trainer.initialize(new Shape(B, L), new Shape(B, L));
        Map<String, float[]> before = new HashMap<>();
        net.namedParameters().forEach((name, p) -> before.put(name, p.getArray().toFloatArray()));
        float first = 0;
        float last = 0;
        for (int step = 0; step < 4; step++) {
          try (NDManager sm = trainer.getManager().newSubManager()) {
            Shape s = new Shape(B, L);
            NDList in = new NDList(sm.create(IDS, s), sm.create(MASK, s));
            try (GradientCollector gc = trainer.newGradientCollector()) {
              NDArray loss = trainer.getLoss().evaluate(new NDList(sm.create(labels, s)), trainer.forward(in));
              gc.backward(loss);
              last = loss.getFloat();
              first = step == 0 ? last : first;
            }
            assertFalse(net.namedParameters().get(k1 + ".bias").getArray().hasGradient(), "a bias is frozen");
            trainer.step();
          }
        }
        System.out.printf("LlamaFamiliesTest: qwen2 LoRA loss %.4f -> %.4f in 4 steps%n", first, last);
        assertTrue(last < first, "loss falls: " + first + " -> " + last);
        assertTrue(before.containsKey(k1 + ".bias"), "biases are named parameters");
        net.namedParameters().forEach((name, p) -> {
          boolean same = Arrays.equals(before.get(name), p.getArray().toFloatArray());
          assertEquals(WeightLoading.isBase(name), same, name + (same ? " did not move" : " moved"));
        });
      }
    }
  }

  @Test
  void qwen2SlidingWindowIsIgnoredWhenOffAndBoundsSequencesWhenOn() throws Exception {
    ObjectNode c = LlamaFixture.config(Spec.qwen2(false));
    assertEquals(0, LlamaConfig.fromJson(c.toString()).slidingWindow(), "use_sliding_window false: no window");
    c.put("use_sliding_window", true);
    LlamaConfig sliding = LlamaConfig.fromJson(c.toString());
    assertEquals(4, sliding.slidingWindow());
    LlamaLoraModel model = LlamaLoraModel.create(sliding, LoraConfig.none());
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      assertEquals(2, model.generate(new int[] {1, 5}, 2, -1).length, "within the window");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> model.generate(new int[] {1, 5, 6, 7}, 3, -1));
      assertTrue(e.getMessage().contains("sliding_window 4"), e.getMessage());
    }
  }
}
