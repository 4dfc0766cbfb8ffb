package dev.loraone.protocol.job;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a task's summed metrics become the numbers users read, defined once for the local run and the
 * coordinator (which knows no task): workers send sums, the reducer adds them in index order and
 * calls {@link #summarise}.
 *
 * <pre>
 *   task            sums sent     metrics reported
 *   classification  correct       accuracy = correct / examples
 *   causal-lm       tokens        perplexity = exp(loss), tokens   (loss is per completion token)
 * </pre>
 */
public final class TaskMetrics {
  public static final String CLASSIFICATION = "classification";
  public static final String CAUSAL_LM = "causal-lm";

  private TaskMetrics() {}

  /**
   * The metrics of {@code examples} examples with mean loss {@code loss} and metric sums {@code sums}.
   *
   * @return by name, in a stable order: {@code accuracy} | {@code perplexity, tokens}
   */
  public static Map<String, Double> summarise(String taskType, double loss, int examples, Map<String, Double> sums) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (CAUSAL_LM.equals(taskType)) {
      out.put("perplexity", Math.exp(loss));
      if (sums.containsKey("tokens")) out.put("tokens", sums.get("tokens"));
    } else if (sums.containsKey("correct")) {
      out.put("accuracy", examples == 0 ? Double.NaN : sums.get("correct") / examples);
    }
    return out;
  }

  /** The PEFT {@code task_type} of adapters of this task. */
  public static String peftTaskType(String taskType) {
    return CAUSAL_LM.equals(taskType) ? "CAUSAL_LM" : "SEQ_CLS";
  }

  /** The metric that summarises a job's quality for humans: {@code accuracy} or {@code perplexity}. */
  public static String headline(String taskType) {
    return CAUSAL_LM.equals(taskType) ? "perplexity" : "accuracy";
  }
}
