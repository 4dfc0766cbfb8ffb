package dev.loraone.protocol.job;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a task's summed metrics become the numbers users read, defined once for the local run and the
 * coordinator (which knows no task): workers send sums, the reducer adds them in index order and
 * calls {@link #summarise}.
 *
 * <pre>
 *   task            sums sent                              metrics reported
 *   classification  correct                                accuracy = correct / examples
 *   causal-lm       tokens                                 perplexity = exp(loss), tokens   (loss per completion token)
 *   embedding       recall@1, recall@10, mrr@10, ndcg@10   each sum / examples (queries)    (evaluation only)
 * </pre>
 */
public final class TaskMetrics {
  public static final String CLASSIFICATION = "classification";
  public static final String CAUSAL_LM = "causal-lm";
  public static final String EMBEDDING = "embedding";

  /** Every task type, in the order the service looks for a job's headline metric. */
  public static final List<String> TASKS = List.of(EMBEDDING, CAUSAL_LM, CLASSIFICATION);

  /** The retrieval metrics of an embedding evaluation: per-query values summed by workers, averaged here. */
  public static final List<String> RETRIEVAL = List.of("recall@1", "recall@10", "mrr@10", "ndcg@10");

  private TaskMetrics() {}

  /**
   * The metrics of {@code examples} examples with mean loss {@code loss} and metric sums {@code sums}.
   *
   * @return by name, in a stable order: {@code accuracy} | {@code perplexity, tokens} |
   *     {@code recall@1, recall@10, mrr@10, ndcg@10} (those present); then {@code padding} when the sums
   *     hold training units' {@code positions} and {@code slots}
   */
  public static Map<String, Double> summarise(String taskType, double loss, int examples, Map<String, Double> sums) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (CAUSAL_LM.equals(taskType)) {
      out.put("perplexity", Math.exp(loss));
      if (sums.containsKey("exact")) out.put("exact_match", examples == 0 ? Double.NaN : sums.get("exact") / examples);
      if (sums.containsKey("tokens")) out.put("tokens", sums.get("tokens"));
    } else if (EMBEDDING.equals(taskType)) {
      for (String m : RETRIEVAL) {
        if (sums.containsKey(m)) out.put(m, examples == 0 ? Double.NaN : sums.get(m) / examples);
      }
    } else if (sums.containsKey("correct")) {
      out.put("accuracy", examples == 0 ? Double.NaN : sums.get("correct") / examples);
    }
    if (sums.containsKey("slots") && sums.get("slots") > 0) { // training units: the share of padded positions
      out.put("padding", 1 - sums.getOrDefault("positions", 0.0) / sums.get("slots"));
    }
    return out;
  }

  /** The PEFT {@code task_type} of adapters of this task. */
  public static String peftTaskType(String taskType) {
    if (EMBEDDING.equals(taskType)) return "FEATURE_EXTRACTION";
    return CAUSAL_LM.equals(taskType) ? "CAUSAL_LM" : "SEQ_CLS";
  }

  /** The metric summarising a job's quality for humans: {@code accuracy}, {@code perplexity} or {@code recall@1}. */
  public static String headline(String taskType) {
    if (EMBEDDING.equals(taskType)) return "recall@1";
    return CAUSAL_LM.equals(taskType) ? "perplexity" : "accuracy";
  }
}
