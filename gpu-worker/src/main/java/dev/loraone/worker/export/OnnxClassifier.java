package dev.loraone.worker.export;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Text classification with an exported model's {@code logits} output: the inference side of a
 * classification job.
 *
 * <pre>
 *   p = softmax(logits)       label = argmax(logits)       name = labels[label]
 * </pre>
 *
 * <p>Class names come from the model's {@value BertOnnxExporter#METADATA_LABELS} metadata (a JSON
 * array written by {@link BertOnnxExporter}); a model without it gets Hugging Face's defaults
 * {@code LABEL_0, LABEL_1, ...}. Owns its {@link OnnxEncoderSession}: close it.
 */
public final class OnnxClassifier implements AutoCloseable {

  /**
   * One text's result. Arrays are the caller's (not shared); equality is by identity.
   *
   * @param label the index of the largest logit
   * @param labelName its class name
   * @param logits the raw scores [C]
   * @param probabilities softmax of the logits [C]
   */
  public record Prediction(int label, String labelName, float[] logits, float[] probabilities) {
    /** The probability of the predicted class. */
    public float confidence() {
      return probabilities[label];
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final OnnxEncoderSession session;
  private final List<String> labels;

  private OnnxClassifier(OnnxEncoderSession session, List<String> labels) {
    this.session = session;
    this.labels = labels;
  }

  /** Opens a model and its tokenizer; see {@link OnnxEncoderSession#open(Path, Path, int)}. */
  public static OnnxClassifier open(Path onnxFile, Path tokenizerJson, int maxLength) throws IOException, OrtException {
    return of(OnnxEncoderSession.open(onnxFile, tokenizerJson, maxLength));
  }

  /** A classifier over an open session, which it takes ownership of (closing it on failure too). */
  public static OnnxClassifier of(OnnxEncoderSession session) throws OrtException {
    try {
      long[] shape = session.outputShapes().get(BertOnnxGraph.LOGITS);
      if (shape == null || shape.length != 2 || shape[1] < 1) {
        throw new IllegalArgumentException("the ONNX model has no [batch, classes] output '"
            + BertOnnxGraph.LOGITS + "'; outputs: " + session.outputShapes().keySet());
      }
      return new OnnxClassifier(session, labels(session, Math.toIntExact(shape[1])));
    } catch (OrtException | RuntimeException e) {
      session.close();
      throw e;
    }
  }

  private static List<String> labels(OnnxEncoderSession session, int classes) {
    String json = session.metadata().get(BertOnnxExporter.METADATA_LABELS);
    if (json == null) {
      return IntStream.range(0, classes).mapToObj(i -> "LABEL_" + i).toList();
    }
    List<String> names;
    try {
      names = JSON.readValue(json, new TypeReference<List<String>>() {});
    } catch (IOException e) {
      throw new IllegalArgumentException("metadata '" + BertOnnxExporter.METADATA_LABELS
          + "' is not a JSON array of strings: " + json, e);
    }
    if (names.size() != classes) {
      throw new IllegalArgumentException("metadata names " + names.size() + " labels for " + classes + " logits");
    }
    return List.copyOf(names);
  }

  /** Class names in logit order. */
  public List<String> labels() {
    return labels;
  }

  /** Raw logits, one row of C per text. */
  public float[][] logits(List<String> texts) throws OrtException {
    return session.rows(texts, BertOnnxGraph.LOGITS);
  }

  /** Softmax probabilities, arg-max label and its name, per text. */
  public List<Prediction> predict(List<String> texts) throws OrtException {
    List<Prediction> out = new ArrayList<>(texts.size());
    for (float[] row : logits(texts)) {
      int best = argmax(row);
      out.add(new Prediction(best, labels.get(best), row, softmax(row)));
    }
    return out;
  }

  /** The predicted class name per text. */
  public List<String> classify(List<String> texts) throws OrtException {
    return predict(texts).stream().map(Prediction::labelName).toList();
  }

  /** The session underneath (its tokenizer, metadata, other outputs). */
  public OnnxEncoderSession session() {
    return session;
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }

  /** Numerically stable softmax: exp(z - max z) / sum. */
  static float[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float z : logits) {
      max = Math.max(max, z);
    }
    double[] e = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      e[i] = Math.exp(logits[i] - max);
      sum += e[i];
    }
    float[] p = new float[logits.length];
    for (int i = 0; i < p.length; i++) {
      p[i] = (float) (e[i] / sum);
    }
    return p;
  }

  /** The first index of the largest value. */
  static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      if (values[i] > values[best]) {
        best = i;
      }
    }
    return best;
  }
}
