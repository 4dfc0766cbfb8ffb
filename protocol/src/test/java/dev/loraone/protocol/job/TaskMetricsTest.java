package dev.loraone.protocol.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Sums become the metrics users read, for every task type alike on the local and distributed paths. */
class TaskMetricsTest {

  @Test
  void embeddingSumsAreAveragedOverQueriesInAStableOrder() {
    Map<String, Double> m = TaskMetrics.summarise(TaskMetrics.EMBEDDING, 1.5, 4,
        Map.of("ndcg@10", 3.0, "recall@1", 2.0, "mrr@10", 2.5, "recall@10", 4.0));
    assertEquals(List.of("recall@1", "recall@10", "mrr@10", "ndcg@10"), List.copyOf(m.keySet()));
    assertEquals(0.5, m.get("recall@1"));
    assertEquals(1.0, m.get("recall@10"));
    assertEquals(0.625, m.get("mrr@10"));
    assertEquals(0.75, m.get("ndcg@10"));
    assertEquals(Map.of(), TaskMetrics.summarise(TaskMetrics.EMBEDDING, 1.5, 8, Map.of()),
        "training steps send no sums");
  }

  @Test
  void eachTaskNamesItsPeftTypeAndHeadline() {
    assertEquals("FEATURE_EXTRACTION", TaskMetrics.peftTaskType(TaskMetrics.EMBEDDING));
    assertEquals("SEQ_CLS", TaskMetrics.peftTaskType(TaskMetrics.CLASSIFICATION));
    assertEquals("CAUSAL_LM", TaskMetrics.peftTaskType(TaskMetrics.CAUSAL_LM));
    assertEquals("recall@1", TaskMetrics.headline(TaskMetrics.EMBEDDING));
    assertEquals(Map.of("accuracy", 0.75),
        TaskMetrics.summarise(TaskMetrics.CLASSIFICATION, 0.2, 4, Map.of("correct", 3.0)));
  }
}
