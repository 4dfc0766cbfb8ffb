package dev.loraone.core.init;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.core.testing.TestMatrices;
import java.util.List;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class InitializersTest {
  private static final int OUT = 12, IN = 10, R = 3;
  private static final LoraScaling SCALING = LoraScaling.rank(16, R);
  private static final DMatrixRMaj W0 = TestMatrices.gaussian(OUT, IN, 21);
  private static final DMatrixRMaj GRAD = TestMatrices.gaussian(OUT, IN, 22);

  private static InitResult run(String name, long seed) {
    return LoraInitializers.forName(name).init(InitContext.of("fc1", W0, GRAD, SCALING, seed, InitParams.defaults()));
  }

  @Test
  void registryKnowsTheFiveMethodsAndListsThemForUnknownNames() {
    assertEquals(List.of("lora-one", "lora", "gaussian", "pissa", "lora-ga"), LoraInitializers.names());
    for (String n : LoraInitializers.names()) assertEquals(n, LoraInitializers.forName(n).name());
    assertEquals("pissa", LoraInitializers.forName(" PiSSA ").name());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraInitializers.forName("olora"));
    assertTrue(
        e.getMessage().contains("'olora'")
            && e.getMessage().contains("lora-one, lora, gaussian, pissa, lora-ga"),
        e.getMessage());
  }

  @Test
  void everyInitHasPeftShapesAndOnlyPissaAndLoraGaOffsetTheBase() {
    Set<String> modifying = Set.of("pissa", "lora-ga");
    for (String name : LoraInitializers.names()) {
      InitResult res = run(name, 5);
      assertEquals(R, res.a().numRows, name + " A rows");
      assertEquals(IN, res.a().numCols, name + " A cols");
      assertEquals(OUT, res.b().numRows, name + " B rows");
      assertEquals(R, res.b().numCols, name + " B cols");
      assertEquals(modifying.contains(name), res.modifiesBase(), name);
      if (!res.modifiesBase()) {
        assertEquals(0.0, Matrices.sumOfSquares(res.offsetOrZero()), 0.0, name + " offset");
      }
    }
  }

  @Test
  void effectiveWeightIsUnchangedAtInitForBaseModifyingMethods() {
    for (String name : List.of("pissa", "lora-ga")) {
      InitResult res = run(name, 5);
      DMatrixRMaj delta = Matrices.scaled(SCALING.factor(), Matrices.mult(res.b(), res.a()));
      DMatrixRMaj effective = Matrices.plus(res.residualBase(W0), delta);
      // W0 entries are O(1): a few ulps of (W0 - offset) + offset
      TestMatrices.assertClose(W0, effective, 1e-13, name + ": W0 - offset + s*B0*A0");
    }
  }

  @Test
  void pissaResidualIsWeightMinusTopRTriplets() {
    DMatrixRMaj expected = Matrices.minus(W0, Svd.exact(W0, R).reconstruct());
    TestMatrices.assertClose(expected, run("pissa", 0).residualBase(W0), 1e-13, "W_res"); // few ulps of O(1) entries
  }

  @Test
  void pissaFactorsShareSqrtOfScaledSingularValues() {
    InitResult res = run("pissa", 0);
    double[] s = Svd.exact(W0, R).s();
    // B^T B = A A^T = diag(S / scaling) because U and Vh have orthonormal columns/rows
    DMatrixRMaj btb = Matrices.multTransA(res.b(), res.b());
    DMatrixRMaj aat = Matrices.multTransB(res.a(), res.a());
    for (int i = 0; i < R; i++) {
      assertEquals(s[i] / SCALING.factor(), btb.get(i, i), 1e-12);
      assertEquals(s[i] / SCALING.factor(), aat.get(i, i), 1e-12);
    }
  }

  @Test
  void loraGaTakesTopRRightAndNextRLeftSingularVectorsScaledByStableFactor() {
    InitResult res = run("lora-ga", 0);
    Svd svd = Svd.exact(GRAD, 2 * R);
    double c2 = Math.sqrt(OUT) / 16.0; // (out^{1/4} / sqrt(16))^2
    TestMatrices.assertClose(Matrices.scaled(c2, identity(R)), Matrices.multTransB(res.a(), res.a()), 1e-13, "A A^T");
    TestMatrices.assertClose(Matrices.scaled(c2, identity(R)), Matrices.multTransA(res.b(), res.b()), 1e-13, "B^T B");
    assertEquals(1.0, Subspaces.similarity(Matrices.transpose(res.a()), Matrices.columns(svd.v(), 0, R)), 1e-12);
    assertEquals(1.0, Subspaces.similarity(res.b(), Matrices.columns(svd.u(), R, 2 * R)), 1e-12);
  }

  private static DMatrixRMaj identity(int n) {
    DMatrixRMaj m = new DMatrixRMaj(n, n);
    for (int i = 0; i < n; i++) m.set(i, i, 1);
    return m;
  }

  @Test
  void kaimingUniformUsesBoundOneOverSqrtFanInAndZeroB() {
    InitResult res = LoraInitializers.forName("lora")
        .init(InitContext.of("fc1", new DMatrixRMaj(4, 400), null, LoraScaling.rank(16, 4), 9, null));
    double bound = 1 / Math.sqrt(400); // sqrt(2/(1+5)) * sqrt(3/400)
    assertEquals(bound, KaimingUniformInit.bound(400), 1e-15);
    double max = 0;
    for (double v : res.a().data) max = Math.max(max, Math.abs(v));
    assertTrue(max <= bound && max > 0.95 * bound, "1600 uniform draws should reach near the bound: " + max);
    assertEquals(0.0, Matrices.sumOfSquares(res.b()), 0.0);
  }

  @Test
  void gaussianHasStdOneOverRankAndZeroB() {
    InitResult res = LoraInitializers.forName("gaussian")
        .init(InitContext.of("fc1", new DMatrixRMaj(4, 2000), null, LoraScaling.rank(16, 4), 9, null));
    double std = Math.sqrt(Matrices.sumOfSquares(res.a()) / res.a().getNumElements());
    assertEquals(0.25, std, 0.25 * 0.05, "8000 draws: the sample std is within ~1.6% at 2 sigma, 5% is safe");
    assertEquals(0.0, Matrices.sumOfSquares(res.b()), 0.0);
  }

  @Test
  void randomInitsAreReproducibleBySeed() {
    for (String name : List.of("lora", "gaussian")) {
      TestMatrices.assertBitIdentical(run(name, 5).a(), run(name, 5).a(), name);
      assertNotEquals(run(name, 5).a().get(0, 0), run(name, 6).a().get(0, 0), name);
    }
  }

  @Test
  void badInputsAreRejectedNamingParameterAndRange() {
    IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
        () -> InitContext.of("fc1", W0, GRAD, LoraScaling.rank(16, 11), 0, null));
    assertTrue(
        rank.getMessage().contains("r=11") && rank.getMessage().contains("[1, min(out, in)=10]"),
        rank.getMessage());

    IllegalArgumentException ga = assertThrows(IllegalArgumentException.class, () -> LoraInitializers.forName("lora-ga")
        .init(InitContext.of("fc1", W0, GRAD, LoraScaling.rank(16, 6), 0, null)));
    assertTrue(ga.getMessage().contains("2r=12") && ga.getMessage().contains("min(out, in)=10")
        && ga.getMessage().contains("[1, 5]"), ga.getMessage());

    DMatrixRMaj nan = GRAD.copy();
    nan.set(2, 3, Double.NaN);
    IllegalArgumentException nf = assertThrows(IllegalArgumentException.class,
        () -> InitContext.of("layers.0.q_proj", W0, nan, SCALING, 0, null));
    assertTrue(nf.getMessage().contains("gradient of layer 'layers.0.q_proj'") && nf.getMessage().contains("(2, 3)")
        && nf.getMessage().contains("finite"), nf.getMessage());

    IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
        () -> InitContext.of("fc1", W0, new DMatrixRMaj(IN, OUT), SCALING, 0, null));
    assertTrue(shape.getMessage().contains("must be (out=12, in=10)"), shape.getMessage());

    IllegalArgumentException gamma =
        assertThrows(IllegalArgumentException.class, () -> InitParams.defaults().withGamma(0));
    assertTrue(gamma.getMessage().contains("gamma=0.0") && gamma.getMessage().contains("> 0"), gamma.getMessage());

    IllegalArgumentException noW = assertThrows(IllegalArgumentException.class,
        () -> LoraInitializers.forName("pissa").init(InitContext.fromGradient("fc1", GRAD, SCALING, 0, null)));
    assertTrue(noW.getMessage().contains("pissa") && noW.getMessage().contains("W0"), noW.getMessage());
    assertFalse(run("lora-one", 0).modifiesBase());
  }
}
