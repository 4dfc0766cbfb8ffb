package dev.loraone.worker.train;

/** Derives per-unit seeds from a job seed (SplitMix64 finaliser), so any worker can recompute them. */
final class DropoutSeeds {
  private DropoutSeeds() {}

  static long of(long seed, long unit) {
    long z = seed * 0x9E3779B97F4A7C15L + unit + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
