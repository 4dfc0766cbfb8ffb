package dev.loraone.core.svd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.testing.TestMatrices;
import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

class RandomizedSvdRoundsTest {
  private static final int M = 40, N = 30, R = 4, Q = 12, NITER = 2;
  private static final long SEED = 7;

  /** What a coordinator does: ask every shard for its product with plain EJML, add in shard order. */
  private static Svd driveLikeACoordinator(List<DMatrixRMaj> shards) {
    RandomizedSvdRounds s = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED);
    while (!s.isDone()) {
      SvdRequest req = s.request();
      DMatrixRMaj sum = null;
      for (DMatrixRMaj g : shards) {
        DMatrixRMaj p = new DMatrixRMaj(req.productRows(), req.productCols());
        if (req instanceof SvdRequest.Right) CommonOps_DDRM.mult(g, req.operand(), p);
        else CommonOps_DDRM.multTransA(g, req.operand(), p);
        if (sum == null) sum = p;
        else CommonOps_DDRM.addEquals(sum, p);
      }
      s = s.accept(sum);
    }
    return s.result();
  }

  private static void assertSameBits(Svd expected, Svd actual) {
    TestMatrices.assertBitIdentical(expected.u(), actual.u(), "U");
    TestMatrices.assertBitIdentical(expected.v(), actual.v(), "V");
    TestMatrices.assertBitIdentical(new DMatrixRMaj(expected.s()), new DMatrixRMaj(actual.s()), "S");
  }

  @Test
  void roundBasedRunEqualsOneShotBitForBitOnTheSameSeed() {
    DMatrixRMaj g = TestMatrices.gaussian(M, N, 1);
    assertSameBits(RandomizedSvd.compute(g, R, Q, NITER, SEED), driveLikeACoordinator(List.of(g)));
  }

  @Test
  void threeSummandsAddedInOrderEqualOneShotOverSummandsBitForBit() {
    List<DMatrixRMaj> shards = List.of(TestMatrices.gaussian(M, N, 1), TestMatrices.gaussian(M, N, 2),
        TestMatrices.gaussian(M, N, 3));
    Svd rounds = driveLikeACoordinator(shards);
    assertSameBits(RandomizedSvd.compute(shards, R, Q, NITER, SEED), rounds);
    // Against the pre-summed matrix only rounding differs: 1e-10 allows ~1e5 ulps of drift through 6 QRs.
    Svd summed = RandomizedSvd.compute(Matrices.sumInOrder(shards), R, Q, NITER, SEED);
    TestMatrices.assertClose(summed.reconstruct(), rounds.reconstruct(), 1e-10, "U S V^T");
  }

  @Test
  void roundsAlternateRightLeftAndCountUploadsPerShard() {
    DMatrixRMaj g = TestMatrices.gaussian(M, N, 1);
    RandomizedSvdRounds s = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED);
    assertEquals(6, s.plannedRounds(), "2*niter + 2 rounds");
    long uploaded = 0;
    for (int k = 0; k < 6; k++) {
      assertFalse(s.isDone());
      assertEquals(k, s.roundsCompleted());
      SvdRequest req = s.request();
      assertEquals(k, req.round());
      if (k % 2 == 0) assertInstanceOf(SvdRequest.Right.class, req);
      else assertInstanceOf(SvdRequest.Left.class, req);
      assertEquals((long) (k % 2 == 0 ? M : N) * Q, req.uploadFloats());
      assertEquals(req.uploadFloats(), s.uploadFloatsPerShard(k));
      uploaded += req.uploadFloats();
      s = s.accept(req.applyTo(MatrixOperator.of(g)));
    }
    assertTrue(s.isDone());
    assertEquals((long) Q * (M + N) * (NITER + 1), uploaded);
    assertEquals(uploaded, s.totalUploadFloatsPerShard());
    assertThrows(IllegalStateException.class, s::request);
  }

  @Test
  void aRoundRedoneFromTheSameStateGivesTheSameNextState() {
    DMatrixRMaj g = TestMatrices.gaussian(M, N, 1);
    RandomizedSvdRounds s0 = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED);
    RandomizedSvdRounds s1 = s0.accept(s0.request().applyTo(MatrixOperator.of(g)));
    RandomizedSvdRounds again = s0.accept(s0.request().applyTo(MatrixOperator.of(g)));
    TestMatrices.assertBitIdentical(s1.request().operand(), again.request().operand(), "Q after a redone round");
    assertEquals(0, s0.roundsCompleted(), "accept must not change the old state");
  }

  @Test
  void testMatrixDependsOnlyOnTheSeed() {
    DMatrixRMaj a = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED).request().operand();
    DMatrixRMaj b = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED).request().operand();
    DMatrixRMaj c = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED + 1).request().operand();
    TestMatrices.assertBitIdentical(a, b, "Omega");
    assertFalse(Matrices.minus(a, c).data[0] == 0.0 && Matrices.minus(a, c).data[1] == 0.0);
    assertEquals(N, a.numRows);
    assertEquals(Q, a.numCols);
  }

  @Test
  void qIsClippedToTheSmallerDimensionAndDefaultsToFourR() {
    assertEquals(6, RandomizedSvdRounds.start(10, 6, 2, 100, 1, SEED).q());
    assertEquals(16, RandomizedSvdRounds.start(100, 50, 4, SEED).q());
    assertEquals(2, RandomizedSvdRounds.start(100, 50, 4, SEED).niter());
    assertEquals(50, RandomizedSvdRounds.start(100, 50, 20, SEED).q());
  }

  @Test
  void badParametersAreRejectedNamingParameterAndRange() {
    List<IllegalArgumentException> errors = new ArrayList<>();
    errors.add(assertThrows(IllegalArgumentException.class, () -> RandomizedSvdRounds.start(M, N, 0, Q, 1, SEED)));
    errors.add(assertThrows(IllegalArgumentException.class, () -> RandomizedSvdRounds.start(M, N, 31, 40, 1, SEED)));
    assertTrue(errors.get(0).getMessage().contains("r=0"), errors.get(0).getMessage());
    assertTrue(errors.get(1).getMessage().contains("[1, min(m, n)=30]"), errors.get(1).getMessage());
    IllegalArgumentException q =
        assertThrows(
            IllegalArgumentException.class, () -> RandomizedSvdRounds.start(M, N, 4, 3, 1, SEED));
    assertTrue(q.getMessage().contains("q=3") && q.getMessage().contains(">= rank r=4"), q.getMessage());
    IllegalArgumentException it =
        assertThrows(
            IllegalArgumentException.class, () -> RandomizedSvdRounds.start(M, N, 4, 8, -1, SEED));
    assertTrue(it.getMessage().contains("niter=-1") && it.getMessage().contains(">= 0"), it.getMessage());
    DMatrixRMaj bad = TestMatrices.gaussian(M, N, 1);
    bad.set(3, 5, Double.POSITIVE_INFINITY);
    IllegalArgumentException nf = assertThrows(IllegalArgumentException.class, () -> RandomizedSvd.compute(bad, R, 1));
    assertTrue(nf.getMessage().contains("matrix G") && nf.getMessage().contains("(3, 5)"), nf.getMessage());
  }

  @Test
  void acceptRejectsAProductOfTheWrongShapeOrWithNaN() {
    RandomizedSvdRounds s = RandomizedSvdRounds.start(M, N, R, Q, NITER, SEED);
    IllegalArgumentException shape =
        assertThrows(IllegalArgumentException.class, () -> s.accept(new DMatrixRMaj(N, Q)));
    assertTrue(shape.getMessage().contains("must be " + M + "x" + Q), shape.getMessage());
    DMatrixRMaj nan = new DMatrixRMaj(M, Q);
    nan.set(0, 0, Double.NaN);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.accept(nan));
    assertTrue(e.getMessage().contains("round 0"), e.getMessage());
  }
}
