package dev.loraone.worker.export;

import static dev.loraone.worker.export.BertOnnxGraph.LAST_HIDDEN_STATE;
import static dev.loraone.worker.export.BertOnnxGraph.LOGITS;
import static dev.loraone.worker.export.BertOnnxGraph.SENTENCE_EMBEDDING;
import static dev.loraone.worker.export.ExportFixtures.forward;
import static dev.loraone.worker.export.ExportFixtures.maskedMean;
import static dev.loraone.worker.export.ExportFixtures.maxAbsDiff;
import static dev.loraone.worker.export.ExportFixtures.mergeInDouble;
import static dev.loraone.worker.export.ExportFixtures.randomBatch;
import static dev.loraone.worker.export.ExportFixtures.randomizeAdapters;
import static dev.loraone.worker.export.ExportFixtures.snapshot;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.export.ExportFixtures.DjlOutputs;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.BertLoraModel.Head;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.MiniLmFixture;
import dev.loraone.worker.weights.OnnxInitializers;
import dev.loraone.worker.weights.PretrainedModels;
import dev.loraone.worker.weights.PretrainedModels.Known;
import dev.loraone.worker.weights.PretrainedModels.Pretrained;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle for the export: ONNX Runtime running the merged file must reproduce the DJL model
 * with its adapters unmerged, and exporting must not change the model.
 */
class BertOnnxExporterTest {

  private static final List<String> SENTENCES = List.of(
      "The quick brown fox jumps over the lazy dog.",
      "LoRA adapters are small.",
      "Fine-tuning a transformer on the JVM needs neither Python nor a GPU, only patience and a few cores.");
  private static final List<String> LABELS = List.of("animal", "artifact", "motion", "feeling", "other");
  // Float32 round-off of merged vs unmerged weights in two engines; FEASIBILITY.md 4 measured 3.6e-5.
  private static final double ATOL = 1e-4;
  private static final LoraConfig LORA = LoraConfig.of(4, 8, false, 0, 11, LoraConfig.ALL_LINEAR); // s = 2
  // MiniLM's vocabulary, so the tiny model can also read tokenized text; 2 layers of H=32.
  static final BertConfig TINY = new BertConfig(30522, 32, 2, 4, 64, 64, 2, 1e-12);

  @TempDir static Path dir;
  private static NDManager manager;
  private static BertLoraModel miniLm;
  private static BertLoraModel tiny;
  private static TokenBatch batch;
  private static DjlOutputs djl;
  private static Map<String, float[]> beforeExport;
  private static Map<String, float[]> afterExport;
  private static OnnxExport export;

  @BeforeAll
  static void exportMiniLmWithNonZeroAdapters() throws Exception {
    manager = NDManager.newBaseManager("PyTorch");
    Pretrained p = MiniLmFixture.pretrained();
    miniLm = BertLoraModel.fromPretrained(p.config(), LORA, new Head.Classification(LABELS.size()), p.weights());
    miniLm.initialize(manager);
    randomizeAdapters(miniLm, 42, 0.05);
    try (InputStream json = PretrainedModels.openTokenizerJson(Known.ALL_MINILM_L6_V2);
        TextTokenizer tokenizer = TextTokenizer.fromJson(json, 128)) {
      batch = tokenizer.encode(SENTENCES);
    }
    djl = forward(miniLm, manager, batch);
    beforeExport = snapshot(miniLm);
    long t0 = System.nanoTime();
    export = new BertOnnxExporter().export(miniLm, dir.resolve("minilm-lora.onnx"), LABELS);
    System.out.printf("BertOnnxExporterTest: MiniLM export %d ms, %.1f MB, %d nodes, %d initializers%n",
        (System.nanoTime() - t0) / 1_000_000, export.modelBytes() / 1e6, export.nodes(), export.initializers());
    afterExport = snapshot(miniLm);

    tiny =
        BertLoraModel.create(
            TINY,
            LoraConfig.of(2, 4, false, 0, 5, LoraConfig.ALL_LINEAR),
            new Head.Classification(3));
    tiny.initialize(manager);
    randomizeAdapters(tiny, 7, 0.3);
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  @Test
  void mergedExportMatchesUnmergedModelInOnnxRuntime() throws Exception {
    try (OnnxEncoderSession session = open(export.model(), 128)) {
      Map<String, FloatTensor> ort = session.run(batch, Set.of(LOGITS, LAST_HIDDEN_STATE, SENTENCE_EMBEDDING));
      assertArrayEquals(new long[] {3, batch.sequenceLength(), 384}, ort.get(LAST_HIDDEN_STATE).shape());
      double logits = maxAbsDiff(ort.get(LOGITS).data(), djl.head());
      double hidden = maxAbsDiff(ort.get(LAST_HIDDEN_STATE).data(), djl.hidden());
      double pooled = maxAbsDiff(ort.get(SENTENCE_EMBEDDING).data(), maskedMean(djl.hidden(), batch, 384));
      double adapterEffect = maxAbsDiff(ort.get(LAST_HIDDEN_STATE).data(), originalMiniLmHidden());
      System.out.printf("BertOnnxExporterTest: ORT(merged) vs DJL(unmerged), batch 3 x %d: logits %.2e, "
          + "last_hidden_state %.2e, sentence_embedding %.2e; adapters moved hidden by %.2f%n",
          batch.sequenceLength(), logits, hidden, pooled, adapterEffect);
      assertTrue(batch.length(1) < batch.sequenceLength(), "the batch is padded");
      assertTrue(logits <= ATOL, "logits max |diff| " + logits);
      assertTrue(hidden <= ATOL, "last_hidden_state max |diff| " + hidden);
      assertTrue(pooled <= ATOL, "sentence_embedding max |diff| " + pooled);
      assertTrue(adapterEffect > 100 * ATOL, "the adapters must change the output, or parity proves nothing");
      printLatency(session);
    }
  }

  @Test
  void exportLeavesWeightsAndAdaptersBitIdentical() {
    assertEquals(beforeExport.keySet(), afterExport.keySet());
    assertEquals(36 * 2, beforeExport.keySet().stream().filter(n -> n.contains(".lora_")).count());
    beforeExport.forEach((name, values) ->
        assertTrue(Arrays.equals(values, afterExport.get(name)), name + " changed during export"));
    for (String module : miniLm.adaptedModules()) {
      assertFalse(miniLm.linear(module).isMerged(), module + " left merged");
    }
  }

  @Test
  void exportReadsBackAsPretrainedWeightsWithTheAdaptersMerged() throws Exception {
    Map<String, FloatTensor> read = OnnxInitializers.read(Files.readAllBytes(export.model())).tensors();
    TreeSet<String> expected = new TreeSet<>(beforeExport.keySet());
    expected.removeIf(n -> n.contains(".lora_"));
    assertEquals(expected, new TreeSet<>(read.keySet()));

    String module = "encoder.layer.3.attention.self.value";
    LoraLinear lin = miniLm.linear(module);
    float[] w0 = beforeExport.get(module + ".weight");
    float[] merged = mergeInDouble(w0, beforeExport.get(module + ".lora_B.weight"),
        beforeExport.get(module + ".lora_A.weight"), lin.outFeatures(), lin.rank(), lin.inFeatures(), lin.scaling());
    // One float32 rounding of W0 + s*B*A (|W| < 1) separates the export from the double reference.
    assertTrue(maxAbsDiff(read.get(module + ".weight").data(), merged) <= 1e-6);
    assertTrue(maxAbsDiff(w0, merged) > 1e-2, "the adapter must move W");
    assertArrayEquals(beforeExport.get("embeddings.word_embeddings.weight"),
        read.get("embeddings.word_embeddings.weight").data());
    assertArrayEquals(beforeExport.get("classifier.weight"), read.get("classifier.weight").data());
    // The read-back weights pass the model's name and shape check: an export is a valid base.
    BertLoraModel.fromPretrained(miniLm.config(), LoraConfig.none(), new Head.Classification(5), read);
  }

  @Test
  void modelDeclaresOpset17ProducerAndLabels() throws Exception {
    ModelProto proto = ModelProto.parseFrom(Files.readAllBytes(export.model()));
    assertEquals(BertOnnxExporter.OPSET, proto.getOpsetImport(0).getVersion());
    assertEquals("loraone", proto.getProducerName());
    Map<String, String> meta = new HashMap<>();
    for (StringStringEntryProto e : proto.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    assertEquals(
        "[\"animal\",\"artifact\",\"motion\",\"feeling\",\"other\"]",
        meta.get(BertOnnxExporter.METADATA_LABELS));
    assertEquals("12", meta.get("num_attention_heads"));
    assertTrue(proto.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("LayerNormalization")));
    assertTrue(export.externalData().isEmpty());
    assertEquals(BertOnnxExporter.weightBytes(miniLm), export.weightBytes());
  }

  @Test
  void weightsOverTheThresholdGoToExternalDataThatOnnxRuntimeLoads() throws Exception {
    OnnxExport ext = new BertOnnxExporter(1024).export(tiny, dir.resolve("ext/tiny.onnx"));
    Path data = ext.externalData().orElseThrow();
    assertEquals(dir.resolve("ext/tiny.onnx.data"), data);
    assertTrue(ext.modelBytes() < ext.weightBytes() / 10, "weights are not in the protobuf");
    ModelProto proto = ModelProto.parseFrom(Files.readAllBytes(ext.model()));
    for (TensorProto t : proto.getGraph().getInitializerList()) {
      if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        Map<String, String> entries = new HashMap<>();
        t.getExternalDataList().forEach(e -> entries.put(e.getKey(), e.getValue()));
        assertEquals("tiny.onnx.data", entries.get("location"));
        long offset = Long.parseLong(entries.get("offset"));
        long length = Long.parseLong(entries.get("length"));
        assertTrue(offset + length <= ext.externalDataBytes());
        if (length >= ExternalDataFile.ALIGN_THRESHOLD_BYTES) {
          assertEquals(0, offset % ExternalDataFile.ALIGNMENT_BYTES, t.getName() + " is aligned");
        }
      } else {
        assertTrue(t.getRawData().size() < OnnxGraphBuilder.SMALL_TENSOR_BYTES, t.getName() + " is small");
        assertFalse(t.getName().startsWith("onnx::MatMul_"), t.getName() + " (a Linear weight) is external");
      }
    }

    // The location is relative: the pair still loads after moving both to another folder.
    Path moved = Files.createDirectories(dir.resolve("moved"));
    Files.move(ext.model(), moved.resolve("tiny.onnx"));
    Files.move(data, moved.resolve("tiny.onnx.data"));
    TokenBatch b = randomBatch(3, TINY.vocabSize(), 7, 3, 5);
    try (OnnxEncoderSession session = open(moved.resolve("tiny.onnx"), 64)) {
      DjlOutputs expected = forward(tiny, manager, b);
      Map<String, FloatTensor> ort = session.run(b, Set.of(LOGITS, LAST_HIDDEN_STATE));
      assertTrue(maxAbsDiff(ort.get(LOGITS).data(), expected.head()) <= ATOL);
      assertTrue(maxAbsDiff(ort.get(LAST_HIDDEN_STATE).data(), expected.hidden()) <= ATOL);
    }

    // Re-exporting below the threshold to the same path removes the then stale side file.
    OnnxExport inline = new BertOnnxExporter().export(tiny, moved.resolve("tiny.onnx"));
    assertTrue(inline.externalData().isEmpty());
    assertFalse(Files.exists(moved.resolve("tiny.onnx.data")));
  }

  @Test
  void graphHasDynamicBatchAndSequenceAxes() throws Exception {
    OnnxExport e = new BertOnnxExporter().export(tiny, dir.resolve("tiny-dynamic.onnx"));
    try (OnnxEncoderSession session = open(e.model(), 64)) {
      for (String input : List.of("input_ids", "attention_mask", "token_type_ids")) {
        TensorInfo info = (TensorInfo) session.session().getInputInfo().get(input).getInfo();
        assertArrayEquals(new String[] {"batch", "sequence"}, info.getDimensionNames(), input);
        assertArrayEquals(new long[] {-1, -1}, info.getShape(), input);
      }
      assertArrayEquals(new long[] {-1, -1, 32}, session.outputShapes().get(LAST_HIDDEN_STATE));
      assertArrayEquals(new long[] {-1, 3}, session.outputShapes().get(LOGITS));
      for (TokenBatch b : List.of(randomBatch(1, TINY.vocabSize(), 5), randomBatch(2, TINY.vocabSize(), 9, 2, 9, 4))) {
        Map<String, FloatTensor> ort = session.run(b, Set.of(LOGITS, LAST_HIDDEN_STATE));
        DjlOutputs expected = forward(tiny, manager, b);
        assertArrayEquals(new long[] {b.batchSize(), b.sequenceLength(), 32}, ort.get(LAST_HIDDEN_STATE).shape());
        assertTrue(maxAbsDiff(ort.get(LOGITS).data(), expected.head()) <= ATOL, "logits at " + b);
        assertTrue(maxAbsDiff(ort.get(LAST_HIDDEN_STATE).data(), expected.hidden()) <= ATOL, "hidden at " + b);
      }
    }
  }

  @Test
  void exportingAMergedModelWritesTheSameWeightsAndKeepsItMerged() throws Exception {
    Map<String, FloatTensor> unmerged = OnnxInitializers.read(Files.readAllBytes(
        new BertOnnxExporter().export(tiny, dir.resolve("tiny-unmerged.onnx")).model())).tensors();
    tiny.mergeAdapters();
    try {
      Map<String, FloatTensor> merged = OnnxInitializers.read(Files.readAllBytes(
          new BertOnnxExporter().export(tiny, dir.resolve("tiny-merged.onnx")).model())).tensors();
      assertTrue(tiny.adaptedModules().stream().allMatch(m -> tiny.linear(m).isMerged()));
      assertEquals(unmerged.keySet(), merged.keySet());
      // W + s*B*A is the same float expression on both paths.
      unmerged.forEach((name, t) -> assertTrue(maxAbsDiff(t.data(), merged.get(name).data()) <= 1e-7, name));
    } finally {
      tiny.unmergeAdapters();
    }
  }

  @Test
  void labelsMustMatchTheClassificationHead() {
    BertOnnxExporter exporter = new BertOnnxExporter();
    assertThrows(IllegalArgumentException.class,
        () -> exporter.export(tiny, dir.resolve("bad.onnx"), List.of("a", "b")));
    assertFalse(Files.exists(dir.resolve("bad.onnx")));
  }

  /** A session over {@code model} with MiniLM's tokenizer at {@code maxLength}. */
  static OnnxEncoderSession open(Path model, int maxLength) throws Exception {
    TextTokenizer tokenizer;
    try (InputStream json = PretrainedModels.openTokenizerJson(Known.ALL_MINILM_L6_V2)) {
      tokenizer = TextTokenizer.fromJson(json, maxLength);
    }
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      return OnnxEncoderSession.open(model, tokenizer, options, OnnxEncoderSession.DEFAULT_BATCH_SIZE);
    }
  }

  private static float[] originalMiniLmHidden() throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] shape = {batch.batchSize(), batch.sequenceLength()};
    try (OrtSession session = env.createSession(MiniLmFixture.onnxBytes());
        OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(batch.inputIds()), shape);
        OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(batch.attentionMask()), shape);
        OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(batch.tokenTypeIds()), shape);
        OrtSession.Result r = session.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
      OnnxTensor out = (OnnxTensor) r.get(LAST_HIDDEN_STATE).orElseThrow();
      float[] v = new float[batch.batchSize() * batch.sequenceLength() * 384];
      out.getFloatBuffer().get(v);
      return v;
    }
  }

  /** ONNX Runtime latency of the export on short texts at batch 1 and 16, and on 16 x 128 tokens. */
  private static void printLatency(OnnxEncoderSession session) throws Exception {
    List<String> sixteen = new ArrayList<>();
    List<String> long16 = new ArrayList<>();
    String longText = String.join(" ", SENTENCES).repeat(4);
    for (int i = 0; i < 16; i++) {
      sixteen.add(SENTENCES.get(i % 3));
      long16.add(longText);
    }
    for (List<String> texts : List.of(List.of(SENTENCES.get(0)), sixteen, long16)) {
      TokenBatch b = session.tokenizer().encode(texts);
      session.run(b, Set.of(LOGITS)); // warm-up
      int reps = 3;
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) {
        session.run(b, Set.of(LOGITS));
      }
      System.out.printf("BertOnnxExporterTest: ORT latency batch %d x %d tokens: %.1f ms%n",
          b.batchSize(), b.sequenceLength(), (System.nanoTime() - t0) / 1e6 / reps);
    }
  }
}
