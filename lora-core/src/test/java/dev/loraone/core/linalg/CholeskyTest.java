package dev.loraone.core.linalg;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.testing.TestMatrices;
import org.junit.jupiter.api.Test;

class CholeskyTest {

  @Test
  void solvesASymmetricPositiveDefiniteSystem() {
    // M = [4 2; 2 3], M^-1 = [3 -2; -2 4]/8, so M^-1 [2; 1] = [0.5; 0]
    var x = Cholesky.solve(TestMatrices.of(2, 2, 4, 2, 2, 3), TestMatrices.of(2, 1, 2, 1)).orElseThrow();
    TestMatrices.assertClose(TestMatrices.of(2, 1, 0.5, 0), x, 1e-15, "x"); // one rounding per operation
  }

  @Test
  void singularOrIndefiniteMatrixGivesEmpty() {
    assertTrue(Cholesky.solve(TestMatrices.of(2, 2, 1, 1, 1, 1), TestMatrices.of(2, 1, 1, 1)).isEmpty());
    assertTrue(Cholesky.solve(TestMatrices.of(2, 2, 1, 0, 0, -1), TestMatrices.of(2, 1, 1, 1)).isEmpty());
    assertTrue(Cholesky.solve(TestMatrices.of(1, 1, Double.NaN), TestMatrices.of(1, 1, 1)).isEmpty());
  }
}
