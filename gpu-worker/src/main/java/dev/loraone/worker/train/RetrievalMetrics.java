package dev.loraone.worker.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The retrieval quality of one query with one relevant document, from its similarity to every
 * document of the corpus: the per-query values an embedding evaluation sums (and
 * {@code TaskMetrics.summarise} averages). Pure Java in double, so every worker and the local run
 * compute the same bits from the same embeddings.
 *
 * <pre>
 *   s:[D] scores of the query against the D documents     r: the relevant document
 *   rank      = 1 + #{d : s_d > s_r} + #{d < r : s_d = s_r}      (ties: the lower index first)
 *   recall@k  = [rank <= k]                                      (k = 1, 10)
 *   mrr@10    = 1/rank if rank <= 10, else 0
 *   ndcg@10   = 1/log2(rank + 1) if rank <= 10, else 0           (one relevant document: ideal DCG = 1)
 *   loss      = -log softmax(scale * s)_r = logsumexp(scale * s) - scale * s_r
 * </pre>
 * The definitions of sentence-transformers' {@code InformationRetrievalEvaluator} (and BEIR) for
 * one relevant document per query.
 */
final class RetrievalMetrics {
  private RetrievalMetrics() {}

  /** The 1-based rank of document {@code relevant} among {@code scores}. */
  static int rank(double[] scores, int relevant) {
    double s = scores[relevant];
    int rank = 1;
    for (int d = 0; d < scores.length; d++) {
      if (scores[d] > s || (scores[d] == s && d < relevant)) rank++;
    }
    return rank;
  }

  /** The query's {@code recall@1, recall@10, mrr@10, ndcg@10} at {@code rank}. */
  static Map<String, Double> atRank(int rank) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("recall@1", rank <= 1 ? 1.0 : 0.0);
    m.put("recall@10", rank <= 10 ? 1.0 : 0.0);
    m.put("mrr@10", rank <= 10 ? 1.0 / rank : 0.0);
    m.put("ndcg@10", rank <= 10 ? 1.0 / (Math.log(rank + 1) / Math.log(2)) : 0.0);
    return m;
  }

  /** The cross-entropy of picking {@code relevant} from {@code softmax(scale * scores)}, in nats. */
  static double crossEntropy(double[] scores, int relevant, double scale) {
    double max = Double.NEGATIVE_INFINITY;
    for (double s : scores) max = Math.max(max, scale * s);
    double sum = 0;
    for (double s : scores) sum += Math.exp(scale * s - max);
    return max + Math.log(sum) - scale * scores[relevant];
  }

  /** The cosine similarities of a unit query to unit documents: plain dot products in double, in index order. */
  static double[] scores(float[] query, float[][] documents) {
    double[] out = new double[documents.length];
    for (int d = 0; d < documents.length; d++) {
      double dot = 0;
      float[] doc = documents[d];
      for (int k = 0; k < query.length; k++) dot += (double) query[k] * doc[k];
      out[d] = dot;
    }
    return out;
  }
}
