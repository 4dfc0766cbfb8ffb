package dev.loraone.protocol.transport;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class TransferSettingsTest {
  @Test
  void defaultsFitAnArteryFrameOfDefaultSize() {
    var config = ConfigFactory.load();
    assertEquals(256 * 1024, config.getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
    TransferSettings s = TransferSettings.fromConfig(config);
    assertEquals(192 * 1024, s.chunkSize());
    assertTrue(s.chunkSize() + TransferSettings.FRAME_HEADROOM <= 256 * 1024);
  }

  @Test
  void aChunkSizeThatWouldNotFitAFrameIsRefusedAtStart() {
    var config = ConfigFactory.parseString("loraone.transfer.chunk-size = 250 KiB").withFallback(ConfigFactory.load());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TransferSettings.fromConfig(config));
    assertTrue(e.getMessage().contains("maximum-frame-size"), e.getMessage());
  }
}
