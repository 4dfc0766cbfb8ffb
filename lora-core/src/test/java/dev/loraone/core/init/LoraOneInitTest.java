package dev.loraone.core.init;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.core.svd.SvdMethod;
import dev.loraone.core.testing.TestMatrices;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class LoraOneInitTest {
  private static final LoraScaling SCALING = LoraScaling.rank(16, 8); // the official recipe: alpha 16, r 8, rsLoRA
  private static final LoraOneInit INIT = new LoraOneInit();

  private static DMatrixRMaj startDelta(DMatrixRMaj grad, InitParams params) {
    InitResult res = INIT.init(InitContext.fromGradient("q_proj", grad, SCALING, 0, params));
    assertFalse(res.modifiesBase(), "LoRA-One must leave W0 untouched");
    return Matrices.scaled(SCALING.factor(), Matrices.mult(res.b(), res.a()));
  }

  /** {@code -(alpha / (sqrt(r) * gamma * sigma1)) * P_r(grad)} from the exact SVD. */
  private static DMatrixRMaj closedForm(DMatrixRMaj grad, double gamma) {
    Svd exact = Svd.exact(grad, 8);
    return Matrices.scaled(-16 / (Math.sqrt(8) * gamma * exact.s()[0]), exact.reconstruct());
  }

  @Test
  void startPointIsScaledNegativeTruncatedGradientWithExactSvd() {
    DMatrixRMaj grad = TestMatrices.gaussian(24, 20, 3);
    DMatrixRMaj delta = startDelta(grad, InitParams.defaults());
    // entries are O(1e-2); 1e-14 is a few ulps of accumulated rounding
    TestMatrices.assertClose(closedForm(grad, 128), delta, 1e-14, "s*B0*A0");
    assertEquals(0.044194173824159216, Matrices.spectralNorm(delta), 1e-14, "alpha/(sqrt(r)*gamma) for 16, 8, 128");
  }

  @Test
  void startPointIsScaledNegativeTruncatedGradientWithRandomizedSvd() {
    double[] s = new double[30];
    for (int i = 0; i < 30; i++) s[i] = i < 8 ? 8 - i : 0.05 * Math.pow(0.9, i - 8);
    DMatrixRMaj grad = TestMatrices.withSpectrum(60, 50, s, 5);
    DMatrixRMaj delta = startDelta(grad, InitParams.defaults().withSvd(SvdMethod.randomized(42)));
    // gap sigma_9/sigma_8 = 0.05 and niter = 2: the sketch error is ~0.05^5, so 1e-6 relative is loose
    assertTrue(Subspaces.relativeError(delta, closedForm(grad, 128)) < 1e-6);
    // normalised by its own sigma_1, so the norm is exact up to rounding
    assertEquals(0.044194173824159216, Matrices.spectralNorm(delta), 1e-14);
  }

  @Test
  void stableGammaDefaultsTo128AndCanBeOverridden() {
    DMatrixRMaj grad = TestMatrices.gaussian(24, 20, 3);
    DMatrixRMaj delta = startDelta(grad, InitParams.defaults().withGamma(64));
    assertEquals(16 / (Math.sqrt(8) * 64), Matrices.spectralNorm(delta), 1e-14);
  }

  /** L(W) = 1/(2N) ||X W^T - Y||_F^2 with X:[N,in], Y:[N,out], W:[out,in]. */
  private static double loss(DMatrixRMaj x, DMatrixRMaj y, DMatrixRMaj w) {
    DMatrixRMaj res = Matrices.minus(Matrices.multTransB(x, w), y);
    return Matrices.sumOfSquares(res) / (2.0 * x.numRows);
  }

  @Test
  void initDescendsTheLossOfALinearModelAndThePositiveGradientWouldAscend() {
    int n = 200, in = 10, out = 8;
    DMatrixRMaj x = TestMatrices.gaussian(n, in, 1);
    DMatrixRMaj w0 = TestMatrices.gaussian(out, in, 2);
    DMatrixRMaj target = Matrices.mult(TestMatrices.gaussian(out, 2, 3), TestMatrices.gaussian(2, in, 4));
    DMatrixRMaj y = Matrices.multTransB(x, target);
    // dL/dW = (1/N) (X W0^T - Y)^T X, shape [out,in]
    DMatrixRMaj grad = Matrices.scaled(1.0 / n, Matrices.multTransA(Matrices.minus(Matrices.multTransB(x, w0), y), x));
    double before = loss(x, y, w0);
    DMatrixRMaj descent = startDelta(grad, InitParams.defaults());
    DMatrixRMaj ascent = startDelta(Matrices.scaled(-1, grad), InitParams.defaults());
    double after = loss(x, y, Matrices.plus(w0, descent));
    double wrongSign = loss(x, y, Matrices.plus(w0, ascent));
    assertTrue(after < before, "LoRA-One start must lower the loss: " + after + " vs " + before);
    assertTrue(wrongSign > before, "an SVD of +grad without offset must raise it: " + wrongSign + " vs " + before);
  }

  @Test
  void initFromSvdOfPositiveGradientMatchesInitFromGradient() {
    DMatrixRMaj grad = TestMatrices.gaussian(24, 20, 3);
    InitResult viaSvd = LoraOneInit.fromGradientSvd("q_proj", Svd.exact(grad, 8), 128);
    DMatrixRMaj expected = startDelta(grad, InitParams.defaults());
    // B*A is invariant to the per-triplet sign choice of the SVD
    TestMatrices.assertClose(
        expected,
        Matrices.scaled(SCALING.factor(), Matrices.mult(viaSvd.b(), viaSvd.a())),
        1e-14,
        "dW");
  }

  @Test
  void zeroOrMissingGradientIsRejectedNamingTheLayer() {
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
        () -> INIT.init(InitContext.fromGradient("layer.3.v_proj", new DMatrixRMaj(12, 10), SCALING, 0, null)));
    assertTrue(
        zero.getMessage().contains("layer.3.v_proj") && zero.getMessage().contains("nonzero"),
        zero.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> INIT.init(InitContext.of("layer.3.v_proj", new DMatrixRMaj(12, 10), null, SCALING, 0, null)));
    assertTrue(
        missing.getMessage().contains("lora-one")
            && missing.getMessage().contains("layer.3.v_proj"),
        missing.getMessage());
  }
}
