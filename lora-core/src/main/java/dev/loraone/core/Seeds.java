package dev.loraone.core;

/**
 * Seeds of the units of a job, derived from the job seed with the SplitMix64 finaliser (Steele,
 * Lea, Flood 2014). Any process can recompute the seed of any unit, which is what lets work move
 * between workers without changing results.
 *
 * <pre>
 *   dropout of training micro-batch g     derive(seed, g)
 *   init of adapted module i              derive(seed, MODULE_INIT + i)
 *   randomized-SVD test matrix of module i derive(seed, MODULE_SVD + i)
 * </pre>
 */
public final class Seeds {
  public static final long MODULE_INIT = 1_000_000L;
  public static final long MODULE_SVD = 2_000_000L;

  private Seeds() {}

  public static long derive(long seed, long unit) {
    long z = seed * 0x9E3779B97F4A7C15L + unit + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
