package dev.loraone.worker.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.train.LlamaArtifacts;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Rope;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle for decoding with the exported KV cache: ONNX Runtime's greedy tokens equal DJL's
 * ({@link LlamaLoraModel#generate}, its {@code KvCache}) on every fixture family with non-zero
 * adapters merged; each decode step's logits match DJL's full forward over the same prefix, and
 * ORT's own full recompute without a cache.
 */
class OnnxCausalLmTest {

  // As LlamaOnnxExporterTest: two float32 engines, merged vs unmerged weights, logits ~1-20; scaled past 10.
  private static final double ATOL = 1e-4;
  // Same engine and weights, cache vs recompute: only the summation order of the attention differs.
  private static final double CACHE_ATOL = 1e-5;
  private static final int[] PROMPT = {1, 17, 3, 44, 28, 9};
  private static final int NEW_TOKENS = 20;

  @TempDir Path dir;

  @Test
  void llamaGqaDecodesAsDjl() throws Exception {
    assertDecodesAsDjl(Spec.tiny(false), DType.F32, false, "llama GQA");
  }

  @Test
  void tiedBf16ShardedDecodesAsDjl() throws Exception {
    assertDecodesAsDjl(Spec.tiny(true), DType.BF16, true, "tied bf16 sharded");
  }

  @Test
  void qwen2WithBiasesDecodesAsDjl() throws Exception {
    assertDecodesAsDjl(Spec.qwen2(true), DType.F32, false, "qwen2 q/k/v biases");
  }

  @Test
  void llama3RopeScalingDecodesAsDjl() throws Exception {
    assertDecodesAsDjl(Spec.tiny(false).withRope(Rope.llama3()), DType.F32, false, "llama3 rope scaling");
  }

  @Test
  void decodingStopsAfterAnEosIdAndTheFolderHasTheDecoderFiles() throws Exception {
    Path ckpt = dir.resolve("ckpt");
    LlamaFixture.write(ckpt, Spec.tiny(false), 31, DType.F32, false);
    LlamaFixture.writeTokenizer(ckpt, Spec.tiny(false));
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(ckpt), LoraConfig.none());
    Path out = dir.resolve("model");
    LlamaArtifacts.Generation djl;
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      LlamaArtifacts.writeOnnx(model, ckpt, out);
      djl = LlamaArtifacts.generate(model, ckpt.resolve("tokenizer.json"), "w17 w3 w44", NEW_TOKENS);
    }
    for (String f : new String[] {"model.onnx", "config.json", "tokenizer.json", "generation_config.json"}) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
    }
    JsonNode gen = new ObjectMapper().readTree(out.resolve("generation_config.json").toFile());
    assertEquals(LlamaFixture.EOS, gen.get("eos_token_id").asInt());
    try (OnnxCausalLm lm = OnnxCausalLm.open(out, 1)) {
      LlamaArtifacts.Generation ort = LlamaArtifacts.generate(lm, out.resolve("tokenizer.json"), "w17 w3 w44",
          NEW_TOKENS);
      assertArrayEquals(djl.tokens(), ort.tokens(), "the same text path: [BOS] prompt, stop at config.json's EOS");
      assertEquals(djl.text(), ort.text());
      int[] free = lm.generate(PROMPT, NEW_TOKENS, Set.of(), false).tokens();
      int stop = free[3];
      int[] stopped = lm.generate(PROMPT, NEW_TOKENS, Set.of(999, stop), false).tokens();
      int first = 0;
      while (free[first] != stop) first++;
      assertArrayEquals(Arrays.copyOf(free, first + 1), stopped, "stops after the first EOS, which it keeps");
    }
    Files.delete(out.resolve("config.json"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxCausalLm.open(out, 1));
    assertTrue(e.getMessage().contains(out.toString()) && e.getMessage().contains("config.json"), e.getMessage());
  }

  /**
   * What batched ORT decoders do with this layout: rows of different lengths left-padded (mask 0,
   * positions counting real tokens only), then one token per row per call through the cache; each
   * row's tokens equal its decoding alone.
   */
  @Test
  void leftPaddedBatchDecodesAsEachRowAlone() throws Exception {
    Spec spec = Spec.tiny(false);
    Path ckpt = dir.resolve("ckpt");
    LlamaFixture.write(ckpt, spec, 31, DType.F32, false);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(ckpt), LoraConfig.none());
    Path out = dir.resolve("model");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      LlamaArtifacts.writeOnnx(model, ckpt, out);
    }
    int[][] rows = {PROMPT, {1, 40, 7, 22}};
    int steps = 8;
    int[][] alone = new int[2][];
    try (OnnxCausalLm lm = OnnxCausalLm.open(out, 1)) {
      for (int r = 0; r < 2; r++) alone[r] = lm.generate(rows[r], steps, Set.of(), false).tokens();
    }
    int width = PROMPT.length;
    long[] ids = new long[2 * width];
    long[] positions = new long[2 * width];
    long[] mask = new long[2 * width];
    for (int r = 0; r < 2; r++) {
      int pad = width - rows[r].length;
      for (int j = 0; j < rows[r].length; j++) {
        ids[r * width + pad + j] = rows[r][j];
        positions[r * width + pad + j] = j;
        mask[r * width + pad + j] = 1;
      }
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    int[][] batched = new int[2][steps];
    long[] next = {rows[0].length, rows[1].length}; // the position of each row's next token
    Map<String, OnnxTensor> past = new HashMap<>();
    for (int i = 0; i < spec.layers(); i++) {
      for (boolean key : new boolean[] {true, false}) {
        past.put(LlamaOnnxGraph.past(i, key), OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
            new long[] {2, spec.kvHeads(), 0, spec.headDim()}));
      }
    }
    OrtSession.Result previous = null;
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(out.resolve("model.onnx").toString(), options)) {
      for (int k = 0; k < steps; k++) {
        int l = ids.length / 2;
        Map<String, OnnxTensor> inputs = new HashMap<>(past);
        inputs.put(LlamaOnnxGraph.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {2, l}));
        inputs.put(LlamaOnnxGraph.POSITION_IDS,
            OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {2, l}));
        inputs.put(LlamaOnnxGraph.ATTENTION_MASK,
            OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {2, mask.length / 2}));
        OrtSession.Result result = session.run(inputs);
        List.of(LlamaOnnxGraph.INPUT_IDS, LlamaOnnxGraph.POSITION_IDS, LlamaOnnxGraph.ATTENTION_MASK)
            .forEach(n -> inputs.get(n).close());
        if (previous == null) past.values().forEach(OnnxTensor::close); else previous.close();
        previous = result;
        float[] logits = new float[2 * l * spec.vocab()];
        ((OnnxTensor) result.get(LlamaOnnxGraph.LOGITS).orElseThrow()).getFloatBuffer().get(logits);
        long[] grown = new long[mask.length + 2];
        for (int r = 0; r < 2; r++) {
          int from = (r * l + l - 1) * spec.vocab();
          batched[r][k] = OnnxCausalLm.argMax(Arrays.copyOfRange(logits, from, from + spec.vocab()));
          System.arraycopy(mask, r * mask.length / 2, grown, r * (mask.length / 2 + 1), mask.length / 2);
          grown[r * (mask.length / 2 + 1) + mask.length / 2] = 1;
        }
        ids = new long[] {batched[0][k], batched[1][k]};
        positions = new long[] {next[0]++, next[1]++};
        mask = grown;
        for (int i = 0; i < spec.layers(); i++) {
          for (boolean key : new boolean[] {true, false}) {
            past.put(LlamaOnnxGraph.past(i, key),
                (OnnxTensor) result.get(LlamaOnnxGraph.present(i, key)).orElseThrow());
          }
        }
      }
    } finally {
      if (previous != null) previous.close();
    }
    assertArrayEquals(alone[0], batched[0], "the longer row, unpadded");
    assertArrayEquals(alone[1], batched[1], "the left-padded row");
  }

  private void assertDecodesAsDjl(Spec spec, DType dtype, boolean sharded, String what) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    LlamaFixture.write(ckpt, spec, 31, dtype, sharded);
    LoraConfig lora = LoraConfig.of(2, 4, true, 0, 5, LoraConfig.ALL_LINEAR);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(ckpt), lora);
    Path out = dir.resolve("model");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      randomizeAdapters(model, 9, 0.3);
      int[] djl = model.generate(PROMPT, NEW_TOKENS, Set.of());
      LlamaArtifacts.writeOnnx(model, ckpt, out);
      try (OnnxCausalLm lm = OnnxCausalLm.open(out, 1)) {
        OnnxCausalLm.Decoded ort = lm.generate(PROMPT, NEW_TOKENS, Set.of(), true);
        System.out.printf("OnnxCausalLmTest (%s): greedy %s%n", what, Arrays.toString(ort.tokens()));
        assertArrayEquals(djl, ort.tokens(), what + ": ORT with cache vs DJL with cache, greedy tokens");

        int[] sequence = new int[PROMPT.length + NEW_TOKENS - 1]; // the last token is never fed
        System.arraycopy(PROMPT, 0, sequence, 0, PROMPT.length);
        System.arraycopy(djl, 0, sequence, PROMPT.length, NEW_TOKENS - 1);
        int vocab = spec.vocab();
        float[] djlFull = djlLogits(model, m, sequence);
        float[] ortFull = lm.logits(sequence);
        double vsDjl = 0;
        double vsRecompute = 0;
        double scale = 0;
        double minGap = Double.MAX_VALUE;
        for (int k = 0; k < NEW_TOKENS; k++) {
          int row = (PROMPT.length - 1 + k) * vocab;
          float[] step = ort.logits()[k];
          for (int v = 0; v < vocab; v++) {
            vsDjl = Math.max(vsDjl, Math.abs(step[v] - djlFull[row + v]));
            vsRecompute = Math.max(vsRecompute, Math.abs(step[v] - ortFull[row + v]));
            scale = Math.max(scale, Math.abs(step[v]));
          }
          minGap = Math.min(minGap, topTwoGap(step));
        }
        System.out.printf("OnnxCausalLmTest (%s): %d steps, max |ORT cached - DJL full| = %.3e, max |ORT cached - ORT"
            + " recompute| = %.3e (max |logit| %.1f, smallest top-2 gap %.3f)%n", what, NEW_TOKENS, vsDjl,
            vsRecompute, scale, minGap);
        double relative = Math.max(1, scale / 10);
        assertTrue(vsDjl <= ATOL * relative, what + ": ORT prefill+decode vs DJL logits " + vsDjl);
        assertTrue(vsRecompute <= CACHE_ATOL * relative, what + ": ORT cache vs recompute " + vsRecompute);
      }
    }
  }

  private static float[] djlLogits(LlamaLoraModel model, NDManager manager, int[] ids) {
    long[] longIds = Arrays.stream(ids).asLongStream().toArray();
    long[] mask = new long[ids.length];
    Arrays.fill(mask, 1);
    try (NDManager step = manager.newSubManager()) {
      CausalLmBatch batch = new CausalLmBatch(1, ids.length, longIds, mask, new long[ids.length]);
      return model.forward(new ParameterStore(step, false), LlamaLoraModel.inputs(step, batch), false).head()
          .toFloatArray();
    }
  }

  private static double topTwoGap(float[] row) {
    int best = OnnxCausalLm.argMax(row);
    double second = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < row.length; v++) {
      if (v != best) second = Math.max(second, row[v]);
    }
    return row[best] - second;
  }

  private static void randomizeAdapters(LlamaLoraModel model, long seed, double std) {
    SplittableRandom random = new SplittableRandom(seed);
    for (String module : model.adaptedModules()) {
      float[] a = new float[model.getLoraA(module).length];
      float[] b = new float[model.getLoraB(module).length];
      for (int i = 0; i < a.length; i++) a[i] = (float) (std * random.nextGaussian());
      for (int i = 0; i < b.length; i++) b[i] = (float) (std * random.nextGaussian());
      model.setLoraA(module, a);
      model.setLoraB(module, b);
    }
  }
}
