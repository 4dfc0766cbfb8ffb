package dev.loraone.protocol.wire;

/** A worker's id, stable across its restarts; see {@link WireChecks#ID} for the allowed characters. */
public record WorkerId(String value) {
  public WorkerId {
    WireChecks.id("worker id", value);
  }

  @Override
  public String toString() {
    return value;
  }
}
