package dev.loraone.worker.train;

import dev.loraone.core.Seeds;

/** Dropout seed of training micro-batch {@code g}: {@link Seeds#derive}{@code (seed, g)}. */
final class DropoutSeeds {
  private DropoutSeeds() {}

  static long of(long seed, long unit) {
    return Seeds.derive(seed, unit);
  }
}
