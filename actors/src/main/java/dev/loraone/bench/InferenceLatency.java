package dev.loraone.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.export.BertOnnxExporter;
import dev.loraone.worker.export.OnnxEncoderSession;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.train.ClassificationBatch;
import dev.loraone.worker.weights.PretrainedModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Serving cost of a trained model, two ways: DJL's eager forward (the training model, no gradient
 * collector) and ONNX Runtime on the merged export ({@link BertOnnxExporter}, {@link
 * OnnxEncoderSession}), each at the batches given. The logits of the largest batch are compared as
 * a parity check: the export is what a job ships, DJL is its oracle.
 *
 * <p>ONNX Runtime runs twice: with its default of intra-op threads that spin between runs (what
 * the product's sessions use), then with spinning off. On a machine shared with other work, the
 * spinning threads take the cores from the ones with work.
 */
public final class InferenceLatency {

  /** Latency of one engine at one batch size. */
  public record Row(String engine, int batch, int seq, double medianMs, double minMs, double sequencesPerSecond) {}

  /** The merged export and the (spinning) ONNX Runtime session over it. */
  public record Export(
      double exportSeconds,
      double modelMiB,
      double sessionSeconds,
      int ortThreads,
      double logitsMaxAbsDiff) {}

  /** The rows in engine, then batch order, and the export. */
  public record Result(List<Row> rows, Export export) {}

  private interface Logits {
    float[] run() throws OrtException;
  }

  private InferenceLatency() {}

  /** Times each batch on each engine ({@code repeats} runs after one warm-up); the last batch is the parity batch. */
  static Result measure(BertLoraModel model, List<ClassificationBatch> batches, int repeats, int ortThreads)
      throws IOException, OrtException {
    List<Row> rows = new ArrayList<>();
    ClassificationBatch parity = batches.get(batches.size() - 1);
    float[] djl;
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      ParameterStore ps = new ParameterStore(m, false);
      for (ClassificationBatch b : batches) rows.add(time("djl-eager", b, repeats, () -> djlLogits(model, ps, m, b)));
      djl = djlLogits(model, ps, m, parity);
    }
    Path dir = Files.createTempDirectory("loraone-bench-model");
    try {
      long t0 = System.nanoTime();
      OnnxExport written = new BertOnnxExporter().export(model, dir.resolve("model.onnx"));
      double exportSeconds = (System.nanoTime() - t0) / 1e9;
      Export export = null;
      for (boolean spin : new boolean[] {true, false}) {
        String engine = spin ? "onnxruntime" : "onnxruntime-nospin";
        long t1 = System.nanoTime();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            InputStream tok = PretrainedModels.openTokenizerJson(PretrainedModels.Known.ALL_MINILM_L6_V2)) {
          options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
          options.setIntraOpNumThreads(ortThreads);
          options.addConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
          // The session wants a tokenizer; the batches are already token ids, so MiniLM's serves any model.
          TextTokenizer tokenizer = TextTokenizer.fromJson(tok, parity.tokens().sequenceLength());
          try (OnnxEncoderSession ort = OnnxEncoderSession.open(written.model(), tokenizer, options, parity.size())) {
            double sessionSeconds = (System.nanoTime() - t1) / 1e9;
            for (ClassificationBatch b : batches) rows.add(time(engine, b, repeats, () -> ortLogits(ort, b)));
            if (spin) {
              float[] ortLogits = ortLogits(ort, parity);
              double diff = 0;
              for (int i = 0; i < djl.length; i++) diff = Math.max(diff, Math.abs(djl[i] - ortLogits[i]));
              export = new Export(exportSeconds, written.modelBytes() / 1048576.0, sessionSeconds, ortThreads, diff);
            }
          }
        }
      }
      return new Result(rows, export);
    } finally {
      deleteRecursively(dir);
    }
  }

  private static Row time(String engine, ClassificationBatch b, int repeats, Logits logits) throws OrtException {
    logits.run(); // warm-up
    double[] t = new double[repeats];
    for (int i = 0; i < t.length; i++) {
      long t0 = System.nanoTime();
      logits.run();
      t[i] = (System.nanoTime() - t0) / 1e9;
    }
    double median = ModelBenchmark.median(t);
    return new Row(
        engine,
        b.size(),
        b.tokens().sequenceLength(),
        median * 1000,
        Arrays.stream(t).min().orElseThrow() * 1000,
        b.size() / median);
  }

  /** Inference-mode forward without a gradient collector, as {@code BertStepper.evaluate} runs it. */
  private static float[] djlLogits(BertLoraModel model, ParameterStore ps, NDManager m, ClassificationBatch b) {
    try (NDManager step = m.newSubManager()) {
      TokenBatch t = b.tokens();
      Shape shape = new Shape(t.batchSize(), t.sequenceLength());
      NDList in =
          new NDList(
              step.create(t.inputIds(), shape),
              step.create(t.tokenTypeIds(), shape),
              step.create(t.attentionMask(), shape));
      return model.forward(ps, in, false).head().toFloatArray();
    }
  }

  private static float[] ortLogits(OnnxEncoderSession ort, ClassificationBatch b) throws OrtException {
    return ort.run(b.tokens(), Set.of("logits")).get("logits").data();
  }

  private static void deleteRecursively(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }
}
