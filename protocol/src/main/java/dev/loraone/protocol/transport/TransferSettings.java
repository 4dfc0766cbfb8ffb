package dev.loraone.protocol.transport;

import com.typesafe.config.Config;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The {@code loraone.transfer} section (defaults and meanings in the protocol's
 * {@code reference.conf}).
 */
public record TransferSettings(
    int chunkSize, int window, Duration retransmitAfter, Duration tickInterval, int maxRetransmits,
    long maxTransferSize, Duration idleTimeout, int rememberCompleted) {

  /** Room left in a frame for the envelope and the chunk's own header. */
  static final int FRAME_HEADROOM = 16 * 1024;
  private static final String FRAME_KEY = "pekko.remote.artery.advanced.maximum-frame-size";

  public TransferSettings {
    if (chunkSize < 1) throw new IllegalArgumentException("loraone.transfer.chunk-size must be >= 1 byte");
    if (window < 1) throw new IllegalArgumentException("loraone.transfer.window must be >= 1");
    if (retransmitAfter.isNegative() || retransmitAfter.isZero()) {
      throw new IllegalArgumentException("loraone.transfer.retransmit-after must be > 0");
    }
    if (tickInterval.isNegative() || tickInterval.isZero()) {
      throw new IllegalArgumentException("loraone.transfer.tick-interval must be > 0");
    }
    if (maxRetransmits < 0) throw new IllegalArgumentException("loraone.transfer.max-retransmits must be >= 0");
    if (maxTransferSize < 0) throw new IllegalArgumentException("loraone.transfer.max-transfer-size must be >= 0");
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("loraone.transfer.idle-timeout must be > 0");
    }
    if (rememberCompleted < 1) throw new IllegalArgumentException("loraone.transfer.remember-completed must be >= 1");
  }

  /**
   * Reads {@code loraone.transfer} and checks the chunk size against Artery's frame size, if
   * remoting is configured.
   */
  public static TransferSettings fromConfig(Config root) {
    Config c = root.getConfig("loraone.transfer");
    TransferSettings s = new TransferSettings(
        Math.toIntExact(c.getBytes("chunk-size")), c.getInt("window"), c.getDuration("retransmit-after"),
        c.getDuration("tick-interval"), c.getInt("max-retransmits"), c.getBytes("max-transfer-size"),
        c.getDuration("idle-timeout"), c.getInt("remember-completed"));
    if (root.hasPath(FRAME_KEY)) {
      long frame = root.getBytes(FRAME_KEY);
      if (s.chunkSize() + FRAME_HEADROOM > frame) {
        throw new IllegalArgumentException("loraone.transfer.chunk-size = " + s.chunkSize() + " bytes leaves less than "
            + FRAME_HEADROOM + " bytes of " + FRAME_KEY + " = " + frame + " for headers; Artery would drop the chunks");
      }
    }
    return s;
  }

  public static TransferSettings of(ActorSystem<?> system) {
    return fromConfig(system.settings().config());
  }

  public TransferSettings withChunkSize(int bytes) {
    return new TransferSettings(
        bytes,
        window,
        retransmitAfter,
        tickInterval,
        maxRetransmits,
        maxTransferSize,
        idleTimeout,
        rememberCompleted);
  }

  public TransferSettings withWindow(int chunks) {
    return new TransferSettings(
        chunkSize,
        chunks,
        retransmitAfter,
        tickInterval,
        maxRetransmits,
        maxTransferSize,
        idleTimeout,
        rememberCompleted);
  }

  public TransferSettings withRetransmit(Duration after, Duration tick, int max) {
    return new TransferSettings(chunkSize, window, after, tick, max, maxTransferSize, idleTimeout, rememberCompleted);
  }
}
