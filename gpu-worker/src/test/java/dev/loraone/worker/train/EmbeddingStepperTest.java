package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.Pooling;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The in-batch-negatives loss against a plain-Java computation of sentence-transformers'
 * MultipleNegativesRankingLoss on tiny inputs (value and gradient), and the stepper's pooling and
 * loss on a tiny random BERT.
 */
class EmbeddingStepperTest {
  private static final int B = 3;
  private static final int NEG = 2;
  private static final int H = 5;
  private static final float SCALE = 20f;

  /** The reference: normalise each row, S = scale * q c^T, loss = -1/B sum_i log softmax(S_i)_i, all in double. */
  static double referenceLoss(double[][] pooled, int queries, double scale) {
    return referenceLoss(pooled, queries, scale, null);
  }

  /** The reference with candidates {@code excluded[i][j]} left out of query i's softmax. */
  static double referenceLoss(double[][] pooled, int queries, double scale, boolean[][] excluded) {
    double[][] e = new double[pooled.length][];
    for (int r = 0; r < pooled.length; r++) {
      double norm = 0;
      for (double v : pooled[r]) norm += v * v;
      norm = Math.max(Math.sqrt(norm), 1e-12);
      e[r] = new double[pooled[r].length];
      for (int k = 0; k < e[r].length; k++) e[r][k] = pooled[r][k] / norm;
    }
    double loss = 0;
    for (int i = 0; i < queries; i++) {
      double[] s = new double[pooled.length - queries];
      for (int j = 0; j < s.length; j++) {
        for (int k = 0; k < e[i].length; k++) s[j] += scale * e[i][k] * e[queries + j][k];
      }
      double max = Double.NEGATIVE_INFINITY;
      for (double v : s) max = Math.max(max, v);
      double sum = 0;
      for (int j = 0; j < s.length; j++) sum += excluded != null && excluded[i][j] ? 0 : Math.exp(s[j] - max);
      loss += max + Math.log(sum) - s[i];
    }
    return loss / queries;
  }

  private static double[][] randomRows(int rows, int cols, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    double[][] out = new double[rows][cols];
    for (double[] row : out) for (int k = 0; k < cols; k++) row[k] = r.nextDouble() * 2 - 1;
    return out;
  }

  @Test
  void aDuplicatePositiveInThePoolIsNoNegativeOfTheQueriesItAnswers() {
    boolean[][] ex = EmbeddingStepper.PairBatch.duplicates(List.of("dog", "cat", "dog"), List.of("cat", "fish"));
    assertTrue(ex[0][2] && ex[2][0] && ex[1][3], "dog answers queries 0 and 2; a hard negative 'cat' answers 1");
    assertTrue(!ex[0][0] && !ex[1][1] && !ex[0][1] && !ex[0][4], "the own positive and true negatives stay");
    assertEquals(null, EmbeddingStepper.PairBatch.duplicates(List.of("a", "b"), List.of("c")), "no duplicates");
    double[][] pooled = randomRows(2 * B + NEG, H, 12);
    float[] flat = new float[pooled.length * H];
    for (int r = 0; r < pooled.length; r++) for (int k = 0; k < H; k++) flat[r * H + k] = (float) pooled[r][k];
    for (int r = 0; r < pooled.length; r++) for (int k = 0; k < H; k++) pooled[r][k] = flat[r * H + k];
    boolean[][] mask = new boolean[B][B + NEG];
    mask[0][2] = true;
    mask[2][0] = true;
    mask[1][B] = true;
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray x = m.create(flat, new Shape(pooled.length, H));
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray l = EmbeddingStepper.rankingLoss(m, x, B, SCALE, mask);
        gc.backward(l);
        double want = referenceLoss(pooled, B, SCALE, mask);
        assertEquals(want, l.getFloat(), 1e-5 * Math.max(1, want), "loss without the duplicates");
        assertTrue(want < referenceLoss(pooled, B, SCALE), "leaving candidates out lowers the loss");
        for (float g : x.getGradient().toFloatArray()) assertTrue(Float.isFinite(g), "finite gradients");
      }
    }
  }

  @Test
  void rankingLossAndItsGradientMatchAPlainJavaComputation() {
    double[][] pooled = randomRows(2 * B + NEG, H, 11);
    float[] flat = new float[pooled.length * H];
    for (int r = 0; r < pooled.length; r++) for (int k = 0; k < H; k++) flat[r * H + k] = (float) pooled[r][k];
    for (int r = 0; r < pooled.length; r++) for (int k = 0; k < H; k++) pooled[r][k] = flat[r * H + k]; // float inputs
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray x = m.create(flat, new Shape(pooled.length, H));
      x.setRequiresGradient(true);
      float[] grad;
      double loss;
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray l = EmbeddingStepper.rankingLoss(m, x, B, SCALE, null);
        gc.backward(l);
        loss = l.getFloat();
        grad = x.getGradient().toFloatArray();
      }
      double want = referenceLoss(pooled, B, SCALE);
      assertEquals(want, loss, 1e-5 * Math.max(1, want), "loss"); // float32 vs double over scale-20 logits
      double h = 1e-6;
      for (int r = 0; r < pooled.length; r++) {
        for (int k = 0; k < H; k++) {
          double keep = pooled[r][k];
          pooled[r][k] = keep + h;
          double up = referenceLoss(pooled, B, SCALE);
          pooled[r][k] = keep - h;
          double down = referenceLoss(pooled, B, SCALE);
          pooled[r][k] = keep;
          // float32 backward against a double central difference
          assertEquals((up - down) / (2 * h), grad[r * H + k], 1e-4, "dL/dpooled[" + r + "," + k + "]");
        }
      }
    }
  }

  @Test
  void aQueryWhosePositiveIsItselfScoresBelowOneWithDistinctNegatives() {
    double[][] pooled = randomRows(2 * B, H, 3);
    for (int i = 0; i < B; i++) pooled[B + i] = pooled[i].clone(); // each positive equals its query
    double aligned = referenceLoss(pooled, B, SCALE);
    double[][] shuffled = pooled.clone();
    shuffled[B] = pooled[B + 1];
    shuffled[B + 1] = pooled[B];
    assertTrue(aligned < referenceLoss(shuffled, B, SCALE), "matching positives cost less than swapped ones");
  }

  private static BertConfig tiny() {
    return new BertConfig(40, 16, 2, 2, 32, 16, 2, 1e-12);
  }

  private static TokenBatch tokens() {
    long[] ids = {2, 7, 9, 4, 3, 2, 5, 1, 0, 0, 2, 8, 8, 6, 3, 2, 9, 3, 0, 0};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    return new TokenBatch(4, 5, ids, mask, new long[20]);
  }

  @Test
  void clsPoolingTakesTheFirstTokensStateAndTheStepperLossIsTheReferenceOnItsEmbeddings() {
    BertLoraModel model = BertLoraModel.create(tiny(), LoraConfig.of(2, 4, false, 0.0, 3, "query,value"),
        new BertLoraModel.Head.Embedding(Pooling.CLS));
    try (EmbeddingStepper stepper = new EmbeddingStepper(model); NDManager m = NDManager.newBaseManager("PyTorch")) {
      var out = model.forward(new ParameterStore(m, false), BertStepper.inputs(m, tokens()), false);
      float[] pooled = out.get(0).toFloatArray();
      float[] first = out.get(1).get(new NDIndex(":, 0, :")).toFloatArray();
      assertArrayEquals(first, pooled, "CLS pooling is h[:, 0, :]");
      float[][] unit = stepper.embed(tokens());
      double[][] rows = new double[unit.length][];
      for (int r = 0; r < unit.length; r++) {
        rows[r] = new double[unit[r].length];
        double norm = 0;
        for (int k = 0; k < unit[r].length; k++) {
          rows[r][k] = unit[r][k];
          norm += rows[r][k] * rows[r][k];
        }
        assertEquals(1.0, Math.sqrt(norm), 1e-6, "embeddings are unit vectors");
      }
      EmbeddingStepper.LoraGradients g = stepper.loraGradients(new EmbeddingStepper.PairBatch(tokens(), 2), 0, SCALE);
      assertEquals(referenceLoss(rows, 2, SCALE), g.loss(), 1e-4, "training forward = inference forward, no dropout");
      assertEquals(2, g.examples());
      assertTrue(g.adapters().keySet().containsAll(model.adaptedModules()));
    }
  }
}
