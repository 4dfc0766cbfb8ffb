package dev.loraone.core.svd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.core.testing.TestMatrices;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Randomized vs exact SVD on a 200x300 matrix with the flat spectrum of real one-step gradients
 * (sigma_8/sigma_1 = 0.18, sigma_32/sigma_1 = 0.065; INIT-SVD-FINDINGS.md).
 */
class RandomizedSvdAccuracyTest {
  private static final int M = 200, N = 300;
  private static double[] sigma;
  private static DMatrixRMaj g;

  @BeforeAll
  static void buildMatrix() {
    sigma = TestMatrices.flatGradientSpectrum(M);
    g = TestMatrices.withSpectrum(M, N, sigma, 11);
  }

  @Test
  void testSpectrumIsAsFlatAsRealGradients() {
    assertEquals(0.18, sigma[7], 1e-12);
    assertEquals(0.065, sigma[31], 1e-12);
  }

  @Test
  void topSubspacesMatchExactSvdAtDefaultSettings() {
    for (int r : new int[] {8, 32}) {
      Svd exact = Svd.exact(g, r);
      for (long seed = 1; seed <= 3; seed++) {
        Svd approx = RandomizedSvd.compute(g, r, seed);
        double simU = Subspaces.similarity(exact.u(), approx.u());
        double simV = Subspaces.similarity(exact.v(), approx.v());
        assertTrue(simU >= 0.99 && simV >= 0.99, "r=" + r + " seed=" + seed + ": simU=" + simU + " simV=" + simV);
        // sigma_1 is well separated; 1e-6 is far below what a wrong scaling or missing power step gives
        assertEquals(exact.s()[0], approx.s()[0], 1e-6 * exact.s()[0], "sigma_1, r=" + r);
      }
    }
  }

  /**
   * Halko, Martinsson, Tropp 2011, Thm 10.6 applied to the power scheme (section 10.4, Cor. 10.10),
   * for target rank r, oversampling p = q - r >= 2 and t = 2*niter + 1:
   * E||G - QQ^T G|| <= [(1 + sqrt(r/(p-1))) sigma_{r+1}^t + (e sqrt(q)/p) sqrt(sum_{j>r} sigma_j^{2t})]^{1/t},
   * e being Euler's number.
   */
  static double halkoBound(double[] s, int r, int q, int niter) {
    int p = q - r;
    int t = 2 * niter + 1;
    double tail = 0;
    for (int j = r; j < s.length; j++) tail += Math.pow(s[j], 2 * t);
    double inner =
        (1 + Math.sqrt((double) r / (p - 1))) * Math.pow(s[r], t)
            + Math.E * Math.sqrt(q) / p * Math.sqrt(tail);
    return Math.pow(inner, 1.0 / t);
  }

  @Test
  void rangeErrorStaysWithinHalkoExpectedErrorBound() {
    // The theorem bounds the mean over Omega; a single draw may exceed it, but at p >= 24 the
    // deviation is exponentially unlikely (Thm 10.8), so a safety factor of 1.5 is generous.
    double safety = 1.5;
    int r = 8;
    int q = 4 * r;
    double[][] errors = new double[3][4];
    for (int niter = 0; niter <= 2; niter++) {
      double bound = halkoBound(sigma, r, q, niter);
      for (int seed = 1; seed <= 3; seed++) {
        RandomizedSvdRounds done = RandomizedSvd.run(MatrixOperator.of(g), r, q, niter, seed);
        DMatrixRMaj qm = done.rangeBasis();
        DMatrixRMaj residual = Matrices.minus(g, Matrices.mult(qm, Matrices.multTransA(qm, g)));
        double err = Matrices.spectralNorm(residual);
        assertTrue(
            err <= safety * bound,
            "niter="
                + niter
                + " seed="
                + seed
                + ": ||G - QQ^T G|| = "
                + err
                + " > "
                + safety
                + " * bound "
                + bound);
        assertTrue(err >= sigma[q] * (1 - 1e-9), "a rank-q basis cannot beat sigma_{q+1}: " + err);
        errors[niter][seed] = err;
      }
    }
    for (int seed = 1; seed <= 3; seed++) {
      // same Omega per seed: two power iterations must shrink the error well below the plain range
      // finder's
      assertTrue(
          errors[2][seed] < 0.75 * errors[0][seed],
          "niter=2 " + errors[2][seed] + " vs niter=0 " + errors[0][seed]);
    }
    // Power iterations must pay off: niter=2 bound is below sigma_{r+1} * 1.25 on this spectrum.
    assertTrue(halkoBound(sigma, r, q, 2) < 1.25 * sigma[r]);
  }
}
