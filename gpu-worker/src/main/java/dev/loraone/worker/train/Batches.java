package dev.loraone.worker.train;

import dev.loraone.data.Example;
import dev.loraone.data.TextTokenizer;
import java.util.ArrayList;
import java.util.List;

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
