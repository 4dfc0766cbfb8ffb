package dev.loraone.worker.model;

/**
 * Where a rescaling can move to a smaller tensor without changing a bit: multiplying or dividing a
 * float by a power of two only shifts its exponent, so {@code (s a) b = s (a b)} and sums of such
 * products round the same, as long as nothing overflows or falls into the subnormal range.
 */
final class Exact {
  private Exact() {}

  /** Whether {@code x} is a positive power of two (1, 2, 0.5, 8, ...). */
  static boolean isPowerOfTwo(float x) {
    return x > 0 && Float.isFinite(x) && x == Math.scalb(1f, Math.getExponent(x));
  }
}
