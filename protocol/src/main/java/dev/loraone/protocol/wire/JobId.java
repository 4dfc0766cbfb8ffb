package dev.loraone.protocol.wire;

/** A job's id, unique per coordinator; see {@link WireChecks#ID} for the allowed characters. */
public record JobId(String value) {
  public JobId {
    WireChecks.id("job id", value);
  }

  @Override
  public String toString() {
    return value;
  }
}
