package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraone.worker.model.BertLoraModel.Head;
import dev.loraone.worker.weights.MiniLmFixture;
import dev.loraone.worker.weights.PretrainedModels;
import dev.loraone.worker.weights.PretrainedModels.Known;
import dev.loraone.worker.weights.PretrainedModels.Pretrained;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The oracle for the DJL encoder: all-MiniLM-L6-v2 rebuilt from its imported ONNX weights must give
 * the {@code last_hidden_state} that ONNX Runtime computes from the original ONNX file.
 */
class BertParityTest {

  private static final String[] SENTENCES = {
    "The quick brown fox jumps over the lazy dog.",
    "LoRA adapters are small.",
    "Fine-tuning a transformer on the JVM needs neither Python nor a GPU, only patience and a few cores.",
    "Hello!",
  };
  // Float32 round-off of two implementations of the same graph; a probe measured 2e-6.
  private static final double ATOL = 1e-4;

  private static int batch;
  private static int len;
  private static long[] ids;
  private static long[] typeIds;
  private static long[] mask;
  private static float[] ortHidden;

  @BeforeAll
  static void tokenizeAndRunOnnxRuntime() throws Exception {
    Map<String, String> options = Map.of("padding", "true", "truncation", "true", "maxLength", "128");
    try (InputStream json = PretrainedModels.openTokenizerJson(Known.ALL_MINILM_L6_V2);
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(json, options)) {
      Encoding[] enc = tokenizer.batchEncode(SENTENCES);
      batch = enc.length;
      len = enc[0].getIds().length;
      ids = new long[batch * len];
      typeIds = new long[batch * len];
      mask = new long[batch * len];
      for (int b = 0; b < batch; b++) {
        System.arraycopy(enc[b].getIds(), 0, ids, b * len, len);
        System.arraycopy(enc[b].getTypeIds(), 0, typeIds, b * len, len);
        System.arraycopy(enc[b].getAttentionMask(), 0, mask, b * len, len);
      }
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] shape = {batch, len};
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setIntraOpNumThreads(2);
      try (OrtSession session = env.createSession(MiniLmFixture.onnxBytes(), so);
          OnnxTensor i = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
          OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
          OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(typeIds), shape);
          OrtSession.Result r = session.run(Map.of("input_ids", i, "attention_mask", m, "token_type_ids", t))) {
        OnnxTensor out = (OnnxTensor) r.get("last_hidden_state").orElseThrow();
        assertArrayEquals(new long[] {batch, len, 384}, out.getInfo().getShape());
        ortHidden = new float[batch * len * 384];
        out.getFloatBuffer().get(ortHidden);
      }
    }
  }

  @AfterAll
  static void release() {
    ortHidden = null;
  }

  @Test
  void batchIsPaddedToDifferentLengths() {
    int shortest = len;
    for (int b = 0; b < batch; b++) {
      int n = 0;
      for (int l = 0; l < len; l++) {
        n += (int) mask[b * len + l];
      }
      shortest = Math.min(shortest, n);
    }
    assertTrue(shortest < len, "at least one sentence is padded");
  }

  @Test
  void importedMiniLmWithNoOpAdaptersMatchesOnnxRuntime() {
    Pretrained p = MiniLmFixture.pretrained();
    // Adapters on every linear with B = 0: the adapter path must add exactly nothing.
    LoraConfig lora = LoraConfig.of(8, 16, false, 0.1, 7, LoraConfig.ALL_LINEAR);
    BertLoraModel model = BertLoraModel.fromPretrained(p.config(), lora, new Head.Embedding(), p.weights());
    assertEquals(36, model.adaptedModules().size());
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      model.initialize(manager);
      float[] hidden;
      float[] pooled;
      try (NDManager step = manager.newSubManager()) {
        Shape s = new Shape(batch, len);
        NDList in = new NDList(step.create(ids, s), step.create(typeIds, s), step.create(mask, s));
        NDList out = model.forward(new ParameterStore(step, false), in, false);
        assertEquals(new Shape(batch, len, 384), out.get(1).getShape());
        hidden = out.get(1).toFloatArray();
        pooled = out.get(0).toFloatArray();
      }
      double maxDiff = 0;
      for (int b = 0; b < batch; b++) {
        for (int l = 0; l < len; l++) {
          if (mask[b * len + l] == 0) {
            continue;
          }
          for (int h = 0; h < 384; h++) {
            int i = (b * len + l) * 384 + h;
            maxDiff = Math.max(maxDiff, Math.abs(hidden[i] - ortHidden[i]));
          }
        }
      }
      System.out.printf(
          "BertParityTest: DJL vs ORT last_hidden_state max |diff| = %.3e over %d sentences x %d tokens%n",
          maxDiff, batch, len);
      assertTrue(maxDiff <= ATOL, "max |diff| " + maxDiff);
      assertPooledIsMaskedMeanOfOrtHidden(pooled);
    }
  }

  private static void assertPooledIsMaskedMeanOfOrtHidden(float[] pooled) {
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < 384; h++) {
        double sum = 0;
        int n = 0;
        for (int l = 0; l < len; l++) {
          if (mask[b * len + l] == 1) {
            sum += ortHidden[(b * len + l) * 384 + h];
            n++;
          }
        }
        assertEquals(sum / n, pooled[b * 384 + h], ATOL, "pooled[" + b + "][" + h + "]");
      }
    }
  }
}
