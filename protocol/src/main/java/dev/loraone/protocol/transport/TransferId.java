package dev.loraone.protocol.transport;

import dev.loraone.protocol.wire.WireChecks;
import java.util.UUID;

/** Names one chunked transfer; chunks, acks and redeliveries are idempotent by (id, chunk index). */
public record TransferId(String value) {
  public TransferId {
    WireChecks.id("transfer id", value);
  }

  /** A fresh random id (a UUID: unique without coordination between nodes). */
  public static TransferId random() {
    return new TransferId(UUID.randomUUID().toString());
  }

  @Override
  public String toString() {
    return value;
  }
}
