package dev.loraone.worker.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Rope;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle for the Llama export: ONNX Runtime running the merged file must reproduce the DJL
 * model with its adapters unmerged (non-zero A and B on every projection), on a right-padded batch,
 * and exporting must leave the model as it was; for plain Llama, Qwen2 (biases) and llama3-scaled
 * RoPE (whose inverse frequencies the DJL model and the ONNX tables take from one place).
 */
class LlamaOnnxExporterTest {

  // Float32 merged vs unmerged weights in two engines over 2 layers with logits of magnitude ~1-10;
  // the DJL-vs-double-reference tests see ~1e-6, so 1e-4 leaves two orders of margin.
  private static final double ATOL = 1e-4;
  private static final int B = 2;
  private static final int L = 7;
  // Row 0 has 7 tokens, row 1 has 4 then padding (pad id 0).
  private static final long[] IDS = {1, 17, 3, 44, 28, 9, 31, 1, 40, 7, 22, 0, 0, 0};
  private static final long[] MASK = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};

  @TempDir Path dir;

  @Test
  void mergedUntiedExportMatchesUnmergedDjlModelInOnnxRuntime() throws Exception {
    OnnxExport export = assertParity(Spec.tiny(false), new LlamaOnnxExporter(), "untied, inline weights");
    assertTrue(export.externalData().isEmpty());
  }

  @Test
  void tiedExportWithExternalDataMatchesToo() throws Exception {
    OnnxExport export = assertParity(Spec.tiny(true), new LlamaOnnxExporter(0), "tied, external data");
    assertTrue(export.externalData().isPresent() && Files.size(export.externalData().get()) > 0);
  }

  @Test
  void qwen2TiedExportWithQkvBiasesMatchesToo() throws Exception {
    OnnxExport export = assertParity(Spec.qwen2(true), new LlamaOnnxExporter(), "qwen2 tied, q/k/v biases");
    assertEquals("qwen2", metadata(export.model()).get("model_type"));
  }

  @Test
  void llama3RopeScaledExportUsesTheSameInverseFrequencies() throws Exception {
    OnnxExport export = assertParity(Spec.tiny(false).withRope(Rope.llama3()), new LlamaOnnxExporter(),
        "llama3 rope scaling");
    assertTrue(metadata(export.model()).get("rope_scaling").startsWith("llama3(factor=8.0"));
  }

  private static Map<String, String> metadata(Path onnx) throws Exception {
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = OrtEnvironment.getEnvironment().createSession(onnx.toString(), options)) {
      return session.getMetadata().getCustomMetadata();
    }
  }

  private OnnxExport assertParity(Spec spec, LlamaOnnxExporter exporter, String what) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    LlamaFixture.write(ckpt, spec, 31, DType.F32, false);
    LoraConfig lora = LoraConfig.of(2, 4, true, 0, 5, LoraConfig.ALL_LINEAR);
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(ckpt), lora);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      model.initialize(m);
      randomizeAdapters(model, 9, 0.3);
      float[] djl = djlLogits(model, m);
      float[] base = djlLogitsWithoutAdapters(model, m);
      Map<String, float[]> before = snapshot(model);
      long t0 = System.nanoTime();
      OnnxExport export = exporter.export(model, dir.resolve("llama.onnx"));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(before.keySet(), snapshot(model).keySet());
      snapshot(model).forEach((name, v) -> assertArrayEquals(before.get(name), v, "export changed " + name));
      assertFalse(model.linear("model.layers.0.self_attn.q_proj").isMerged());

      float[] ort = ortLogits(export.model(), spec);
      double diff = maxAbsDiff(djl, ort);
      double adapterEffect = maxAbsDiff(djl, base);
      double scale = maxAbsDiff(djl, new float[djl.length]);
      System.out.printf(
          "LlamaOnnxExporterTest (%s): export %d ms, %d nodes, %d initializers; max |ORT - DJL| logits = %.3e"
              + " (max |logit| %.1f; adapters move logits by %.2f)%n",
          what, ms, export.nodes(), export.initializers(), diff, scale, adapterEffect);
      assertTrue(adapterEffect > 100 * ATOL, "the adapters matter, so the merge is exercised: " + adapterEffect);
      // Round-off is relative: past logits of 10 (tied embeddings, Qwen2's biases) the bound grows with them.
      assertTrue(diff <= ATOL * Math.max(1, scale / 10), what + ": max |ORT - DJL| " + diff);
      return export;
    }
  }

  private static float[] djlLogits(LlamaLoraModel model, NDManager manager) {
    try (NDManager step = manager.newSubManager()) {
      CausalLmBatch batch = new CausalLmBatch(B, L, IDS, MASK, new long[B * L]);
      return model
          .forward(new ParameterStore(step, false), LlamaLoraModel.inputs(step, batch), false)
          .head()
          .toFloatArray();
    }
  }

  /** The logits with every adapter zeroed, restored afterwards. */
  private static float[] djlLogitsWithoutAdapters(LlamaLoraModel model, NDManager manager) {
    Map<String, float[]> b = new HashMap<>();
    for (String m : model.adaptedModules()) {
      b.put(m, model.getLoraB(m));
      model.setLoraB(m, new float[b.get(m).length]);
    }
    float[] logits = djlLogits(model, manager);
    b.forEach(model::setLoraB);
    return logits;
  }

  /** One call with empty past tensors (the prefill of a decoder), positions 0..L-1 in every row. */
  private static float[] ortLogits(Path onnx, Spec spec) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] positions = new long[B * L];
    for (int i = 0; i < positions.length; i++) positions[i] = i % L;
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(onnx.toString(), options)) {
      inputs.put(LlamaOnnxGraph.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(IDS), new long[] {B, L}));
      inputs.put(LlamaOnnxGraph.ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(MASK), new long[] {B, L}));
      inputs.put(LlamaOnnxGraph.POSITION_IDS,
          OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {B, L}));
      for (int i = 0; i < spec.layers(); i++) {
        for (boolean key : new boolean[] {true, false}) {
          inputs.put(LlamaOnnxGraph.past(i, key), OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
              new long[] {B, spec.kvHeads(), 0, spec.headDim()}));
        }
      }
      try (OrtSession.Result result = session.run(inputs)) {
        OnnxTensor logits = (OnnxTensor) result.get(LlamaOnnxGraph.LOGITS).orElseThrow();
        assertArrayEquals(new long[] {B, L, spec.vocab()}, logits.getInfo().getShape());
        OnnxTensor present = (OnnxTensor) result.get(LlamaOnnxGraph.present(spec.layers() - 1, false)).orElseThrow();
        assertArrayEquals(new long[] {B, spec.kvHeads(), L, spec.headDim()}, present.getInfo().getShape());
        FloatBuffer fb = logits.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  private static void randomizeAdapters(LlamaLoraModel model, long seed, double std) {
    SplittableRandom random = new SplittableRandom(seed);
    for (String module : model.adaptedModules()) {
      model.setLoraA(module, gaussian(random, model.getLoraA(module).length, std));
      model.setLoraB(module, gaussian(random, model.getLoraB(module).length, std));
    }
  }

  private static float[] gaussian(SplittableRandom random, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) (std * random.nextGaussian());
    return v;
  }

  private static Map<String, float[]> snapshot(LlamaLoraModel model) {
    Map<String, float[]> values = new HashMap<>();
    model.namedParameters().forEach((name, p) -> values.put(name, p.getArray().toFloatArray()));
    return values;
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length, "lengths");
    double max = 0;
    for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    return max;
  }
}
