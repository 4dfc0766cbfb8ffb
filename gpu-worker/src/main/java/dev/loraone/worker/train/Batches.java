package dev.loraone.worker.train;

import dev.loraone.data.Example;
import dev.loraone.data.TextTokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tokenises examples into micro-batches on demand: the one way both the single-process
 * {@link LocalRun} and the distributed worker actors (both through {@link WorkerEngine}) turn example indices into a
 * {@link ClassificationBatch}, so the same addresses give the same tensors.
 */
final class Batches {
  final TextTokenizer tok;
  final TaskData task;

  Batches(TextTokenizer tok, TaskData task) {
    this.tok = tok;
    this.task = task;
  }

  /**
   * {@code metrics} plus a micro-batch's padding as sums the coordinator adds up like any metric:
   * {@code positions} (attended tokens) and {@code slots} (rows x padded length), so a step reports
   * {@code padding = 1 - positions / slots} ({@code TaskMetrics.summarise}).
   */
  static Map<String, Double> padding(long[] attentionMask, Map<String, Double> metrics) {
    long real = 0;
    for (long m : attentionMask) real += m;
    Map<String, Double> out = new LinkedHashMap<>(metrics);
    out.put("positions", (double) real);
    out.put("slots", (double) attentionMask.length);
    return out;
  }

  /** Training examples {@code exampleIdx}, as micro-batch {@code index}. */
  ClassificationBatch of(long index, int[] exampleIdx) {
    return make(index, task.train(), exampleIdx);
  }

  /** Evaluation examples {@code exampleIdx}. */
  ClassificationBatch ofEval(int[] exampleIdx) {
    return make(-1, task.eval(), exampleIdx);
  }

  private ClassificationBatch make(long index, List<Example.Classification> from, int[] idx) {
    List<String> texts = new ArrayList<>(idx.length);
    int[] labels = new int[idx.length];
    for (int i = 0; i < idx.length; i++) {
      Example.Classification e = from.get(idx[i]);
      texts.add(e.text());
      labels[i] = task.labels().id(e.label());
    }
    return new ClassificationBatch(index, tok.encode(texts), labels);
  }
}
