package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.wire.JobId;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@link ServiceMetrics} shows each job's task metrics: perplexity for causal LM, accuracy for classification. */
class ServiceMetricsTest {
  private static final JobSpec SPEC =
      JobSpec.of(Map.of("name", "m", "train.batch", 8, "train.micro-batch", 8, "train.max-length", 16));

  /** The value of {@code name{job="id"}} in the scrape; NaN when absent. */
  static double value(String scrape, String name, String id) {
    Matcher m = Pattern.compile("(?m)^" + name + "\\{job=\"" + Pattern.quote(id) + "\"} (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  void aCausalLmJobHasPerplexityGaugesAndNoAccuracy() {
    ServiceMetrics metrics = new ServiceMetrics(() -> 1);
    metrics.started("llama-1");
    for (JobEvent e : JobViewTest.causalLm()) metrics.event("llama-1", e, SPEC);
    String scrape = metrics.scrape();
    assertEquals(2.5, value(scrape, "loraone_train_loss", "llama-1"), 1e-12, scrape);
    assertEquals(Math.exp(2.5), value(scrape, "loraone_train_perplexity", "llama-1"), 1e-9, scrape);
    assertEquals(Math.exp(2.0), value(scrape, "loraone_eval_perplexity", "llama-1"), 1e-9, scrape);
    assertEquals(8.0 * 16 / 0.25, value(scrape, "loraone_tokens_per_second", "llama-1"), 1e-9, scrape);
    assertFalse(scrape.contains("accuracy"), () -> "a causal LM reports no accuracy:\n" + scrape);

    metrics.ended("llama-1", JobStore.State.SUCCEEDED);
    String after = metrics.scrape();
    for (String gauge : List.of("loraone_train_loss", "loraone_train_perplexity", "loraone_eval_perplexity")) {
      assertTrue(Double.isNaN(value(after, gauge, "llama-1")), () -> gauge + " is gone with the job:\n" + after);
    }
  }

  @Test
  void aClassificationJobKeepsItsAccuracyGaugesBesideACausalLmJob() {
    ServiceMetrics metrics = new ServiceMetrics(() -> 1);
    JobId bert = new JobId("bert-1");
    metrics.started("bert-1");
    metrics.started("llama-1");
    metrics.event("bert-1", JobViewTest.step(bert, 1, 1.0, Map.of("accuracy", 0.5)), SPEC);
    metrics.event("bert-1", new JobEvent.Evaluated(bert, 1, 0.9, Map.of("accuracy", 0.75), 32), SPEC);
    for (JobEvent e : JobViewTest.causalLm()) metrics.event("llama-1", e, SPEC);
    String scrape = metrics.scrape();
    assertEquals(0.5, value(scrape, "loraone_train_accuracy", "bert-1"), scrape);
    assertEquals(0.75, value(scrape, "loraone_eval_accuracy", "bert-1"), scrape);
    assertTrue(Double.isNaN(value(scrape, "loraone_eval_perplexity", "bert-1")), scrape);
    assertTrue(Double.isNaN(value(scrape, "loraone_eval_accuracy", "llama-1")), scrape);
    assertEquals(Math.exp(2.0), value(scrape, "loraone_eval_perplexity", "llama-1"), 1e-9, scrape);
  }
}
