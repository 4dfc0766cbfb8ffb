package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loraone.worker.weights.PretrainedModels.Known;
import dev.loraone.worker.weights.PretrainedModels.Pretrained;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class PretrainedModelsTest {

  @Test
  void bgeSmallLoadsLikeMiniLmWithTwelveLayers() {
    Pretrained bge = PretrainedModels.load(Known.BGE_SMALL_EN_V15);
    assertEquals(new BertConfig(30522, 384, 12, 12, 1536, 512, 2, 1e-12), bge.config());
    long linearWeights = bge.weights().keySet().stream()
        .filter(n -> n.startsWith("encoder.layer.") && n.endsWith(".weight") && !n.contains("LayerNorm")).count();
    assertEquals(72, linearWeights);
  }

  @Test
  void knownModelsResolveByIdAndShipATokenizer() throws Exception {
    for (Known k : Known.values()) {
      assertEquals(k, Known.fromId(k.id()));
      try (InputStream in = PretrainedModels.openTokenizerJson(k)) {
        assertNotNull(in);
      }
    }
    assertThrows(IllegalArgumentException.class, () -> Known.fromId("bert-large"));
  }
}
