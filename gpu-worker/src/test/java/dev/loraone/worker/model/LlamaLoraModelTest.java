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
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle for the DJL Llama: tiny random HF checkpoints, loaded through {@link LlamaCheckpoint},
 * must give the logits, greedy tokens and loss of the independent double-precision {@link
 * LlamaReference}.
 */
class LlamaLoraModelTest {

  // Float32 vs double over 2 layers of <= 64-term dot products with logits of magnitude ~1-10:
  // round-off is ~1e-6 relative, so 1e-4 absolute leaves an order of magnitude of margin.
  private static final double ATOL = 1e-4;
  // Adapter-active vs merged is the same float32 maths in another association order.
  private static final double RTOL = 1e-5;

  // Batch 2, right-padded: row 0 has 7 tokens, row 1 has 4 then padding (pad id 0).
  private static final int B = 2;
  private static final int L = 7;
  private static final long[] IDS = {5, 17, 3, 44, 28, 9, 31, 12, 40, 7, 22, 0, 0, 0};
  private static final long[] MASK = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};

  @Test
  void untiedShardedCheckpointMatchesReferenceOnPaddedBatch(@TempDir Path dir) throws Exception {
    assertParity(dir, Spec.tiny(false), DType.F32, true, "untied, 2 shards, f32");
  }

  @Test
  void tiedCheckpointMatchesReferenceOnPaddedBatch(@TempDir Path dir) throws Exception {
    assertParity(dir, Spec.tiny(true), DType.F32, false, "tied, f32");
  }

  @Test
  void bf16CheckpointMatchesReferenceOnTheRoundedWeights(@TempDir Path dir) throws Exception {
    assertParity(dir, Spec.tiny(false), DType.BF16, false, "untied, bf16");
  }

  /** Loads the fixture of {@code spec} and checks DJL logits against the reference; returns max |diff|. */
  static double assertParity(Path dir, Spec spec, DType dtype, boolean sharded, String what) throws Exception {
    Map<String, float[]> weights = LlamaFixture.write(dir, spec, 11, dtype, sharded);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(dir), LoraConfig.none());
    LlamaReference ref = new LlamaReference(dims(spec), weights);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      float[] logits = logits(model, m, IDS, MASK, B, L);
      double maxDiff = 0;
      for (int b = 0; b < B; b++) {
        double[][] expected = ref.logits(row(IDS, b, L), row(MASK, b, L));
        for (int t = 0; t < L; t++) { // padded positions too: they attend to the row's real tokens
          for (int v = 0; v < spec.vocab(); v++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - logits[(b * L + t) * spec.vocab() + v]));
          }
        }
      }
      System.out.printf("LlamaLoraModelTest: DJL vs reference logits (%s) max |diff| = %.3e%n", what, maxDiff);
      assertTrue(maxDiff <= ATOL, what + ": max |diff| " + maxDiff);
      return maxDiff;
    }
  }

  @Test
  void kvCacheGreedyEqualsFullForwardGreedyAndReference(@TempDir Path dir) throws Exception {
    Spec spec = Spec.tiny(false);
    Map<String, float[]> weights = LlamaFixture.write(dir, spec, 12, DType.F32, false);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(dir), LoraConfig.none());
    int[] prompt = {1, 23, 8, 41, 16};
    int steps = 12;
    double[] minGap = new double[1];
    int[] reference = new LlamaReference(dims(spec), weights).greedy(prompt, steps, -1, minGap);
    assertTrue(minGap[0] > 10 * ATOL, "reference top-2 logit gap " + minGap[0] + " too small for an exact comparison");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      int[] cached = model.generate(prompt, steps, -1);
      int[] uncached = greedyWithoutCache(model, m, prompt, steps);
      System.out.println("LlamaLoraModelTest: greedy tokens " + Arrays.toString(cached));
      assertArrayEquals(uncached, cached, "KV cache vs full forward each step");
      assertArrayEquals(reference, cached, "DJL vs reference greedy");

      int eos = cached[4];
      int firstEos = Arrays.stream(cached).boxed().toList().indexOf(eos);
      assertArrayEquals(Arrays.copyOf(cached, firstEos + 1), model.generate(prompt, steps, eos),
          "generation stops after the first eos, which it includes");
      assertThrows(
          IllegalArgumentException.class,
          () -> model.generate(prompt, 64, -1),
          "past max_position_embeddings");
    }
  }

  static int[] greedyWithoutCache(LlamaLoraModel model, NDManager m, int[] prompt, int steps) {
    long[] seq = Arrays.stream(prompt).asLongStream().toArray();
    int[] out = new int[steps];
    for (int n = 0; n < steps; n++) {
      long[] ones = new long[seq.length];
      Arrays.fill(ones, 1);
      float[] logits = logits(model, m, seq, ones, 1, seq.length);
      int v = model.config().vocabSize();
      int best = 0;
      for (int j = 1; j < v; j++) {
        if (logits[(seq.length - 1) * v + j] > logits[(seq.length - 1) * v + best]) {
          best = j;
        }
      }
      out[n] = best;
      seq = Arrays.copyOf(seq, seq.length + 1);
      seq[seq.length - 1] = best;
    }
    return out;
  }

  @Test
  void causalLmLossWithMaskedPromptMatchesReference(@TempDir Path dir) throws Exception {
    Spec spec = Spec.tiny(true);
    Map<String, float[]> weights = LlamaFixture.write(dir, spec, 13, DType.F32, false);
    LlamaFixture.writeTokenizer(dir, spec);
    LlamaCheckpoint ckpt = LlamaCheckpoint.load(dir);
    LlamaConfig config = ckpt.config();
    CausalLmBatch batch;
    try (TextTokenizer tok = TextTokenizer.fromPath(ckpt.tokenizerJson().orElseThrow(), 16)) {
      CausalLmEncoder enc = new CausalLmEncoder(tok, config.bosTokenId(),
          OptionalLong.of(config.eosTokenIds().get(0)));
      batch = enc.encode(List.of("w5 w17 w3 w44", "w12 w40"), List.of("w9 w31", "w7 w22"));
    }
    assertEquals(List.of(1L, 5L, 17L, 3L, 44L, 9L, 31L, 2L), Arrays.stream(batch.inputIds(0)).boxed().toList());
    assertEquals(List.of(1L, 12L, 40L, 7L, 22L, 2L, 0L, 0L), Arrays.stream(batch.inputIds(1)).boxed().toList());
    assertEquals(3 + 3, batch.labelledTokens(), "completion and EOS only: BOS, prompt and padding are -100");

    int[][] ids = new int[B][];
    int[][] mask = new int[B][];
    long[][] labels = new long[B][];
    for (int b = 0; b < B; b++) {
      ids[b] = Arrays.stream(batch.inputIds(b)).mapToInt(Math::toIntExact).toArray();
      mask[b] = Arrays.stream(batch.attentionMask(b)).mapToInt(Math::toIntExact).toArray();
      labels[b] = batch.labels(b);
    }
    double expected = new LlamaReference(dims(spec), weights).loss(ids, mask, labels);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(ckpt, LoraConfig.none());
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      NDList out = model.forward(new ParameterStore(m, false), LlamaLoraModel.inputs(m, batch), false);
      NDArray labelArray = CausalLmLoss.labels(m, batch);
      float loss = CausalLmLoss.mean(out.head(), labelArray).getFloat();
      float viaDjlLoss = new CausalLmLoss().evaluate(new NDList(labelArray), out).getFloat();
      NDArray[] sumCount = CausalLmLoss.sumAndCount(out.head(), labelArray);
      System.out.printf("LlamaLoraModelTest: causal-LM loss DJL %.7f reference %.7f%n", loss, expected);
      // A mean of O(1) float32 log-probabilities: 1e-5 is ~100 ulp.
      assertEquals(expected, loss, 1e-5);
      assertEquals(loss, viaDjlLoss);
      assertEquals(batch.labelledTokens(), sumCount[1].getFloat());
    }
  }

  @Test
  void adapterActiveMergedAndUnmergedLogitsAgreeAndMatchMergedReference(@TempDir Path dir) throws Exception {
    Spec spec = Spec.tiny(false);
    Map<String, float[]> weights = LlamaFixture.write(dir, spec, 14, DType.F32, false);
    LoraConfig lora = LoraConfig.of(4, 8, false, 0, 3, LoraConfig.ALL_LINEAR);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(dir), lora);
    assertEquals(2 * 7, model.adaptedModules().size(), "all-linear: 7 projections per layer, not lm_head");
    assertEquals(0, model.linear("lm_head").rank());
    Map<String, float[]> merged = new HashMap<>(weights);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      float[] base = logits(model, m, IDS, MASK, B, L);
      Random r = new Random(15);
      for (String module : model.adaptedModules()) {
        LoraLinear lin = model.linear(module);
        float[] a = gaussians(r, 4 * lin.inFeatures(), 0.3);
        float[] b = gaussians(r, lin.outFeatures() * 4, 0.3);
        model.setLoraA(module, a);
        model.setLoraB(module, b);
        merged.put(module + ".weight", mergedWeight(weights.get(module + ".weight"), a, b, lin, lora.scaling()));
      }
      float[] active = logits(model, m, IDS, MASK, B, L);
      model.mergeAdapters();
      float[] mergedLogits = logits(model, m, IDS, MASK, B, L);
      model.unmergeAdapters();
      float[] unmerged = logits(model, m, IDS, MASK, B, L);

      double change = 0;
      for (int i = 0; i < base.length; i++) {
        change = Math.max(change, Math.abs(active[i] - base[i]));
      }
      assertTrue(change > 0.1, "the adapters change the logits (" + change + ")");
      assertClose(active, mergedLogits, "merged");
      assertClose(active, unmerged, "unmerged");
      weights.forEach((name, w) -> assertArrayEquals(w, model.namedParameters().get(name).getArray().toFloatArray(),
          1e-5f, name + " restored by unmerge"));

      LlamaReference ref = new LlamaReference(dims(spec), merged);
      double maxDiff = 0;
      for (int b = 0; b < B; b++) {
        double[][] expected = ref.logits(row(IDS, b, L), row(MASK, b, L));
        for (int t = 0; t < L; t++) {
          for (int v = 0; v < spec.vocab(); v++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - active[(b * L + t) * spec.vocab() + v]));
          }
        }
      }
      System.out.printf("LlamaLoraModelTest: adapter-active vs reference with W+sBA max |diff| = %.3e%n", maxDiff);
      assertTrue(maxDiff <= ATOL, "max |diff| " + maxDiff);
    }
  }

  @Test
  void namedParametersUseHfNamesAndOnlyAdaptersTrainInLoraMode() {
    LlamaConfig config = tinyConfig(false);
    LlamaLoraModel model = LlamaLoraModel.create(config, LoraConfig.of(2, 4, false, 0, 1, "q_proj,v_proj,lm_head"));
    assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "lm_head"), model.adaptedModules());
    Map<String, Parameter> named = model.namedParameters();
    List<String> base = named.keySet().stream().filter(WeightLoading::isBase).toList();
    assertEquals(List.copyOf(config.tensorShapes().keySet()), base, "base parameters are exactly the HF tensors");
    assertTrue(named.containsKey("model.layers.1.self_attn.v_proj.lora_B.weight"));
    assertTrue(named.containsKey("lm_head.lora_A.weight"));
    assertFalse(named.keySet().stream().anyMatch(n -> n.endsWith(".bias")), "Llama has no biases");
    named.forEach((name, p) -> assertEquals(WeightLoading.isBase(name), !p.requiresGradient(), name));

    IllegalArgumentException tied = assertThrows(IllegalArgumentException.class,
        () -> LlamaLoraModel.create(tinyConfig(true), LoraConfig.of(2, 4, false, 0, 1, "lm_head")));
    assertTrue(tied.getMessage().contains("tied"), tied.getMessage());
    assertEquals(14, LlamaLoraModel.create(tinyConfig(true), LoraConfig.of(2, 4, false, 0, 1, "all-linear"))
        .adaptedModules().size());
  }

  @Test
  void loraTrainingStepMovesOnlyAdaptersAndLowersTheLoss() {
    LoraConfig lora = LoraConfig.of(2, 4, false, 0.1, 5, "q_proj,v_proj,down_proj");
    LlamaLoraModel net = LlamaLoraModel.create(tinyConfig(false), lora);
    String v0 = "model.layers.0.self_attn.v_proj";
    long[] labels = {-100, -100, 3, 44, 28, 9, 31, -100, -100, 7, 22, -100, -100, -100};
    DefaultTrainingConfig cfg = new DefaultTrainingConfig(new CausalLmLoss())
        .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(5e-2f)).build());
    try (Model model = Model.newInstance("llama-lora", "PyTorch")) {
      model.setBlock(net);
      try (Trainer trainer = model.newTrainer(cfg)) {
        trainer.initialize(new Shape(B, L), new Shape(B, L));
        Map<String, float[]> before = new HashMap<>();
        net.namedParameters().forEach((name, p) -> before.put(name, p.getArray().toFloatArray()));
        float first = 0;
        float last = 0;
        for (int step = 0; step < 5; step++) {
          try (NDManager sm = trainer.getManager().newSubManager()) {
            Shape s = new Shape(B, L);
            NDList in = new NDList(sm.create(IDS, s), sm.create(MASK, s));
            net.setDropoutSeed(100 + step);
            try (GradientCollector gc = trainer.newGradientCollector()) {
              NDArray loss = trainer.getLoss().evaluate(new NDList(sm.create(labels, s)), trainer.forward(in));
              gc.backward(loss);
              last = loss.getFloat();
              first = step == 0 ? last : first;
            }
            if (step == 0) {
              assertTrue(net.namedParameters().get(v0 + ".lora_A.weight").getArray().getGradient().abs().sum()
                  .getFloat() == 0, "B = 0 at the start, so A has no gradient yet");
              assertTrue(net.namedParameters().get(v0 + ".lora_B.weight").getArray().getGradient().abs().sum()
                  .getFloat() > 0, "B has a gradient");
              assertFalse(net.namedParameters().get(v0 + ".weight").getArray().hasGradient(), "base W has none");
            }
            trainer.step();
          }
        }
        System.out.printf("LlamaLoraModelTest: LoRA loss %.4f -> %.4f in 5 steps%n", first, last);
        assertTrue(last < first, "loss falls: " + first + " -> " + last);
        net.namedParameters().forEach((name, p) -> {
          boolean same = Arrays.equals(before.get(name), p.getArray().toFloatArray());
          assertEquals(WeightLoading.isBase(name), same, name + (same ? " did not move" : " moved"));
        });
      }
    }
  }

  private static LlamaConfig tinyConfig(boolean tied) {
    try {
      return LlamaConfig.fromJson(LlamaFixture.config(Spec.tiny(tied)).toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static float[] mergedWeight(float[] w, float[] a, float[] b, LoraLinear lin, float s) {
    int in = lin.inFeatures();
    int out = lin.outFeatures();
    float[] m = new float[w.length];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        double d = 0;
        for (int k = 0; k < 4; k++) {
          d += (double) b[o * 4 + k] * a[k * in + i];
        }
        m[o * in + i] = (float) (w[o * in + i] + s * d);
      }
    }
    return m;
  }

  static float[] logits(LlamaLoraModel model, NDManager m, long[] ids, long[] mask, int b, int l) {
    try (NDManager step = m.newSubManager()) {
      Shape s = new Shape(b, l);
      NDList in = new NDList(step.create(ids, s), step.create(mask, s));
      NDArray out = model.forward(new ParameterStore(step, false), in, false).head();
      assertEquals(new Shape(b, l, model.config().vocabSize()), out.getShape());
      return out.toFloatArray();
    }
  }

  static LlamaReference.Dims dims(Spec s) {
    LlamaFixture.Rope r = s.rope();
    return new LlamaReference.Dims(s.vocab(), s.hidden(), s.inter(), s.layers(), s.heads(), s.kvHeads(),
        s.headDim(), s.eps(), s.theta(), s.tied(), s.qkvBias(),
        new LlamaReference.Rope(r.type(), r.factor(), r.lowFreqFactor(), r.highFreqFactor(), r.originalMax()));
  }

  static int[] row(long[] flat, int b, int l) {
    return Arrays.stream(flat, b * l, (b + 1) * l).mapToInt(Math::toIntExact).toArray();
  }

  static float[] gaussians(Random r, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (std * r.nextGaussian());
    }
    return v;
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], RTOL * Math.max(1, Math.abs(expected[i])), what + "[" + i + "]");
    }
  }
}
