package dev.loraone.worker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LoraConfigTest {

  @Test
  void targetsMatchModuleNamesBySuffixLikePeft() {
    LoraConfig c = LoraConfig.of(8, 16, false, 0, 1, "query, value,dense");
    assertEquals(8, c.rankFor("encoder.layer.0.attention.self.query"));
    assertEquals(0, c.rankFor("encoder.layer.0.attention.self.key"));
    assertEquals(8, c.rankFor("encoder.layer.3.attention.output.dense"));
    assertEquals(8, c.rankFor("encoder.layer.3.intermediate.dense"));
    assertEquals(0, c.rankFor("encoder.layer.3.output.densex"));
  }

  @Test
  void allLinearTargetsEverythingAndNoneTargetsNothing() {
    assertEquals(4, LoraConfig.of(4, 8, false, 0, 1, "all-linear").rankFor("encoder.layer.0.attention.self.key"));
    assertEquals(0, LoraConfig.of(4, 8, false, 0, 1, "none").rankFor("encoder.layer.0.attention.self.key"));
    assertThrows(IllegalArgumentException.class, () -> LoraConfig.of(4, 8, false, 0, 1, "all-linear,query"));
  }

  @Test
  void scalingIsAlphaOverRankOrOverSqrtRankForRsLora() {
    assertEquals(2f, LoraConfig.of(8, 16, false, 0, 1, "query").scaling());
    assertEquals(4f, LoraConfig.of(16, 16, true, 0, 1, "query").scaling());
  }

  @Test
  void invalidValuesAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> LoraConfig.of(-1, 8, false, 0, 1, "query"));
    assertThrows(IllegalArgumentException.class, () -> LoraConfig.of(4, 8, false, 1.0, 1, "query"));
  }
}
