package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.train.LlamaStepper;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaConfig;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sequences longer than {@link LlamaAttention#QUERY_BLOCK}: the attention runs in query blocks, each
 * against the keys up to its last position, and must still give the logits of the double-precision
 * {@link LlamaReference} at every position of a right-padded batch (padding positions too: they see
 * the row's real tokens), with sqrt(d) a power of two (d = 16: q's rotary table scaled) and not (d =
 * 8: the scores divided); and a KV-cache prefill of such a prompt must pick the reference's tokens.
 * A checkpointed LoRA step over the blocks gives the plain step's adapter gradients bit for bit.
 */
class LlamaBlockedAttentionTest {

  // float32 vs double over 2 layers, softmax over up to 300 keys: ~1e-6 relative; as LlamaLoraModelTest
  private static final double ATOL = 1e-4;
  private static final int L = 300; // 3 query blocks of 100 positions
  private static final int VALID_ROW_1 = 230; // row 1: padding from position 230, in the last block

  @ParameterizedTest
  @ValueSource(ints = {8, 16})
  void blockedAttentionMatchesTheReferenceOnALongPaddedBatch(int headDim) throws Exception {
    assertTrue(L > 2 * LlamaAttention.QUERY_BLOCK, "the test covers several query blocks");
    Spec spec = new Spec(50, 4 * headDim, 64, 2, 4, 2, 1e-5, 500.0, false, "llama", LlamaFixture.Rope.NONE);
    Map<String, float[]> weights = LlamaFixture.randomWeights(spec, 31);
    LlamaLoraModel model = model(spec, weights);
    LlamaReference ref = new LlamaReference(LlamaLoraModelTest.dims(spec), weights);
    SplittableRandom r = new SplittableRandom(4);
    long[] ids = new long[2 * L];
    long[] mask = new long[2 * L];
    for (int i = 0; i < ids.length; i++) {
      boolean real = i < L + VALID_ROW_1;
      ids[i] = real ? 1 + r.nextInt(spec.vocab() - 1) : 0;
      mask[i] = real ? 1 : 0;
    }
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      float[] logits = LlamaLoraModelTest.logits(model, m, ids, mask, 2, L);
      double maxDiff = 0;
      double largest = 0;
      for (int b = 0; b < 2; b++) {
        double[][] expected = ref.logits(LlamaLoraModelTest.row(ids, b, L), LlamaLoraModelTest.row(mask, b, L));
        for (int t = 0; t < L; t++) {
          for (int v = 0; v < spec.vocab(); v++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - logits[(b * L + t) * spec.vocab() + v]));
            largest = Math.max(largest, Math.abs(expected[t][v]));
          }
        }
      }
      System.out.printf("LlamaBlockedAttentionTest: d = %d, L = %d, max |diff| %.3e (largest |logit| %.2f)%n",
          headDim, L, maxDiff, largest);
      assertTrue(maxDiff <= ATOL, "max |diff| " + maxDiff);
      assertTrue(largest > 0.1, "the logits are not vacuous: largest " + largest);

      int[] prompt = LlamaLoraModelTest.row(ids, 0, 200);
      double[] minGap = new double[1];
      int[] expected = ref.greedy(prompt, 3, -1, minGap);
      assumeTrue(minGap[0] > 10 * ATOL, "reference top-2 logit gap " + minGap[0] + " too small to compare tokens");
      assertArrayEquals(expected, model.generate(prompt, 3, -1), "KV-cache prefill of 200 positions in blocks");
    }
  }

  @Test
  void checkpointedStepOverQueryBlocksGivesThePlainStepsGradientsBitForBit() throws Exception {
    Spec spec = new Spec(50, 64, 64, 2, 4, 2, 1e-5, 500.0, false, "llama", LlamaFixture.Rope.NONE);
    Map<String, float[]> weights = LlamaFixture.randomWeights(spec, 32);
    LoraConfig lora = LoraConfig.of(2, 4, false, 0, 3, LoraConfig.ALL_LINEAR); // no dropout: fused A products
    LlamaLoraModel plainModel = model(spec, weights, lora);
    LlamaLoraModel ckptModel = model(spec, weights, lora);
    SplittableRandom r = new SplittableRandom(6);
    long[] ids = new long[2 * L];
    long[] mask = new long[2 * L];
    long[] labels = new long[2 * L];
    for (int i = 0; i < ids.length; i++) {
      boolean real = i < L + VALID_ROW_1;
      ids[i] = real ? 1 + r.nextInt(spec.vocab() - 1) : 0;
      mask[i] = real ? 1 : 0;
      labels[i] = real && i % L >= 20 ? ids[i] : -100; // a 20-token prompt, padding unlabelled
    }
    CausalLmBatch batch = new CausalLmBatch(2, L, ids, mask, labels);
    try (LlamaStepper plain = new LlamaStepper(plainModel, Device.cpu(), false);
        LlamaStepper ckpt = new LlamaStepper(ckptModel, Device.cpu(), true)) {
      for (LlamaLoraModel m : new LlamaLoraModel[] {plainModel, ckptModel}) {
        for (String module : m.adaptedModules()) {
          m.setLoraB(module, LoraLinearTest.randoms(m.getLoraB(module).length, module.hashCode()));
        }
      }
      LlamaStepper.LoraGradients p = plain.loraGradients(batch, 1);
      LlamaStepper.LoraGradients c = ckpt.loraGradients(batch, 1);
      assertEquals(p.lossSum(), c.lossSum());
      double largest = 0;
      for (String m : plainModel.adaptedModules()) {
        assertArrayEquals(p.adapters().get(m)[0], c.adapters().get(m)[0], m + " dL/dA");
        assertArrayEquals(p.adapters().get(m)[1], c.adapters().get(m)[1], m + " dL/dB");
        for (float v : p.adapters().get(m)[0]) {
          largest = Math.max(largest, Math.abs(v));
        }
      }
      assertTrue(largest > 1e-4, "the comparison is not vacuous: largest |dL/dA| " + largest);
    }
  }

  private static LlamaLoraModel model(Spec spec, Map<String, float[]> weights) throws Exception {
    return model(spec, weights, LoraConfig.none());
  }

  private static LlamaLoraModel model(Spec spec, Map<String, float[]> weights, LoraConfig lora) throws Exception {
    ObjectNode json = LlamaFixture.config(spec);
    json.put("max_position_embeddings", 512);
    LlamaConfig config = LlamaConfig.fromJson(json.toString());
    Map<String, long[]> shapes = LlamaFixture.shapes(spec);
    Map<String, FloatTensor> tensors = new LinkedHashMap<>();
    weights.forEach((name, v) -> tensors.put(name, new FloatTensor(shapes.get(name), v)));
    return LlamaLoraModel.fromPretrained(config, lora, tensors);
  }
}
