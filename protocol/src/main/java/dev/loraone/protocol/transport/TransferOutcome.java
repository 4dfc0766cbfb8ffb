package dev.loraone.protocol.transport;

import java.time.Duration;

/**
 * What a {@link ChunkSender} reports to the actor that started it. Local only (the sender is the
 * caller's child), hence not a wire message.
 */
public sealed interface TransferOutcome {
  TransferId transfer();

  /** The inbox verified the checksum and handed the message to its target. */
  record Delivered(TransferId transfer, long bytes, int chunks, int retransmits, Duration elapsed)
      implements TransferOutcome {
    /** Payload MB (10^6 bytes) per second, from the sender's start (serialization included) to the completion. */
    public double megabytesPerSecond() {
      return bytes / 1e6 / Math.max(1e-9, elapsed.toNanos() / 1e9);
    }
  }

  /** Given up: rejected by the inbox, a chunk out of resends, or the inbox terminated. */
  record Failed(TransferId transfer, String reason) implements TransferOutcome {}
}
