package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Per-query retrieval metrics from scores: ranks with ties, recall, MRR and nDCG at 10, and the corpus loss. */
class RetrievalMetricsTest {

  @Test
  void rankCountsHigherScoresAndEarlierTies() {
    double[] s = {0.1, 0.9, 0.5, 0.9, 0.2};
    assertEquals(2, RetrievalMetrics.rank(s, 3), "the tie at index 1 comes first");
    assertEquals(1, RetrievalMetrics.rank(s, 1));
    assertEquals(5, RetrievalMetrics.rank(s, 0));
  }

  @Test
  void metricsAtRankFollowTheirDefinitions() {
    assertEquals(Map.of("recall@1", 1.0, "recall@10", 1.0, "mrr@10", 1.0, "ndcg@10", 1.0), RetrievalMetrics.atRank(1));
    Map<String, Double> third = RetrievalMetrics.atRank(3);
    assertEquals(0.0, third.get("recall@1"));
    assertEquals(1.0, third.get("recall@10"));
    assertEquals(1.0 / 3, third.get("mrr@10"), 1e-15);
    assertEquals(0.5, third.get("ndcg@10"), 1e-15, "1 / log2(4)");
    assertEquals(Map.of("recall@1", 0.0, "recall@10", 0.0, "mrr@10", 0.0, "ndcg@10", 0.0), RetrievalMetrics.atRank(11));
  }

  @Test
  void crossEntropyIsMinusLogSoftmaxOfTheScaledScores() {
    double[] s = {0.2, -0.1, 0.7};
    double z = Math.exp(20 * 0.2) + Math.exp(20 * -0.1) + Math.exp(20 * 0.7);
    assertEquals(-Math.log(Math.exp(20 * 0.7) / z), RetrievalMetrics.crossEntropy(s, 2, 20), 1e-12);
    assertEquals(0.3, RetrievalMetrics.scores(new float[] {0.5f, 0.5f}, new float[][] {{0.2f, 0.4f}})[0], 1e-7);
  }
}
