package dev.loraone.protocol.job;

/** The phases of one job (DESIGN.md section 4). */
public enum Phase {
  WAITING_FOR_WORKERS,
  GRADIENT_ACCUMULATION,
  SVD_INIT,
  TRAINING,
  EVALUATION,
  EXPORT,
  DONE,
  FAILED;

  public boolean finished() {
    return this == DONE || this == FAILED;
  }
}
