package dev.loraone.core.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.core.testing.TestMatrices;
import org.junit.jupiter.api.Test;

class LoraScalingTest {

  @Test
  void rsLoraDividesAlphaBySqrtRank() {
    assertEquals(16 / Math.sqrt(8), LoraScaling.rank(16, 8).factor(), 0.0);
  }

  @Test
  void standardScalingDividesAlphaByRank() {
    assertEquals(2.0, LoraScaling.standard(16, 8).factor(), 0.0);
  }

  @Test
  void badRankAndAlphaAreRejectedNamingTheParameter() {
    IllegalArgumentException r = assertThrows(IllegalArgumentException.class, () -> LoraScaling.rank(16, 0));
    assertTrue(r.getMessage().contains("r=0") && r.getMessage().contains(">= 1"), r.getMessage());
    IllegalArgumentException a = assertThrows(IllegalArgumentException.class, () -> LoraScaling.rank(Double.NaN, 8));
    assertTrue(a.getMessage().contains("alpha=NaN") && a.getMessage().contains("> 0"), a.getMessage());
    assertThrows(IllegalArgumentException.class, () -> LoraScaling.standard(-1, 8));
  }

  @Test
  void shapeRejectsRankAboveMinDimension() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LoraShape(6, 4, 5));
    assertTrue(e.getMessage().contains("r=5") && e.getMessage().contains("[1, min(out, in)=4]"), e.getMessage());
  }

  @Test
  void pairDeltaIsScaledBTimesA() {
    // B = [1; 2] (out=2, r=1), A = [3 4] (r=1, in=2): s*B*A = 0.5 * [3 4; 6 8]
    LoraPair p = new LoraPair(TestMatrices.of(1, 2, 3, 4), TestMatrices.of(2, 1, 1, 2));
    TestMatrices.assertClose(TestMatrices.of(2, 2, 1.5, 2, 3, 4), p.delta(0.5), 0.0, "s*B*A");
  }

  @Test
  void pairRejectsMismatchedRank() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new LoraPair(TestMatrices.of(2, 1, 1, 1), TestMatrices.of(1, 1, 1)));
    assertTrue(e.getMessage().contains("rank mismatch"), e.getMessage());
  }
}
