package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;

/**
 * Seeded random numbers computed in Java, so that initial weights and dropout masks depend only on
 * (seed, parameter name, call index) and never on the engine's global generator, the device or the
 * thread count: the determinism contract of DESIGN.md section 4 needs the same adapter on 1, 2 or
 * 3 workers.
 *
 * <p>The generator is SplitMix64 (Steele, Lea, Flood 2014, "Fast splittable pseudorandom number
 * generators"), written out here so the stream never changes with the JDK.
 */
final class Seeded {

  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

  private long state;

  private Seeded(long seed) {
    this.state = seed;
  }

  /** A generator for one named stream under a base seed. */
  static Seeded of(long seed, String stream) {
    return new Seeded(mix(seed, hash(stream)));
  }

  /** A well-mixed 64-bit combination of two values (order matters). */
  static long mix(long a, long b) {
    return finalizeMix(finalizeMix(a + GOLDEN_GAMMA) ^ (b * GOLDEN_GAMMA));
  }

  /** 64-bit FNV-1a of a string, stable across JVMs. */
  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001b3L;
    }
    return h;
  }

  long nextLong() {
    return finalizeMix(state += GOLDEN_GAMMA);
  }

  /** Uniform in [0,1) with 24 random bits, exactly representable as a float. */
  float nextFloat() {
    return (nextLong() >>> 40) * 0x1.0p-24f;
  }

  /** Standard normal by Box-Muller over two 53-bit uniforms. */
  double nextGaussian() {
    double u1 = ((nextLong() >>> 11) + 1) * 0x1.0p-53; // (0,1]: log is finite
    double u2 = (nextLong() >>> 11) * 0x1.0p-53;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Initializer: normal(0, std), the HF BERT weight init ({@code initializer_range = 0.02}). */
  static Initializer normal(double std, long seed, String stream) {
    return (manager, shape, dataType) -> {
      Seeded r = of(seed, stream);
      float[] v = new float[Math.toIntExact(shape.size())];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (std * r.nextGaussian());
      }
      return create(manager, v, shape, dataType);
    };
  }

  /** Initializer: uniform(-bound, bound). */
  static Initializer uniform(double bound, long seed, String stream) {
    return (manager, shape, dataType) -> {
      Seeded r = of(seed, stream);
      float[] v = new float[Math.toIntExact(shape.size())];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (bound * (2.0 * r.nextFloat() - 1.0));
      }
      return create(manager, v, shape, dataType);
    };
  }

  /**
   * An inverted-dropout mask of {@code n} values: 0 with probability {@code p}, else 1/(1-p), so
   * that {@code x * mask} keeps the expectation of x.
   */
  static float[] dropoutMask(long seed, int n, double p) {
    Seeded r = new Seeded(seed);
    float keep = (float) (1.0 / (1.0 - p));
    float[] m = new float[n];
    for (int i = 0; i < n; i++) {
      m[i] = r.nextFloat() < p ? 0f : keep;
    }
    return m;
  }

  private static NDArray create(NDManager manager, float[] v, Shape shape, DataType dataType) {
    NDArray a = Owned.copy(manager.create(v, shape));
    if (dataType == DataType.FLOAT32) {
      return a;
    }
    NDArray converted = a.toType(dataType, true);
    a.close();
    return converted;
  }

  private static long finalizeMix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
