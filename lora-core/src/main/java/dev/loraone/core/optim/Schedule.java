package dev.loraone.core.optim;

import java.util.List;
import java.util.Locale;

/**
 * Learning-rate multipliers by optimizer step, as in HF transformers' schedules ({@code LambdaLR}).
 * Step {@code t = 0, 1, ...} is the number of optimizer steps already taken, so, as in the HF
 * Trainer, the very first step of a warmup schedule runs with factor 0.
 *
 * <pre>
 *   constant : 1
 *   linear   : t / max(1, w)                                   for t &lt; w
 *              max(0, (T - t) / max(1, T - w))                  otherwise      (get_linear_schedule_with_warmup)
 *   cosine   : t / max(1, w)                                   for t &lt; w
 *              0.5 * (1 + cos(pi * (t - w) / max(1, T - w)))    for w &lt;= t &lt;= T, 0 after T
 *                                                                             (get_cosine_schedule_with_warmup, 0.5
 *                                                                                 cycles)
 * </pre>
 *
 * {@code w} = warmup steps, {@code T} = total steps. HF's cosine rises again after T; here it stays
 * 0.
 */
public sealed interface Schedule {

  /** The multiplier applied to the base learning rate at step {@code t >= 0}. */
  double factor(int t);

  static Schedule constant() {
    return new Constant();
  }

  static Schedule linear(int warmup, int total) {
    return new Linear(warmup, total);
  }

  static Schedule cosine(int warmup, int total) {
    return new Cosine(warmup, total);
  }

  /** {@code constant | linear | cosine}; warmup and total are ignored by {@code constant}. */
  public static Schedule forName(String name, int warmup, int total) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "constant" -> constant();
      case "linear" -> linear(warmup, total);
      case "cosine" -> cosine(warmup, total);
      default ->
          throw new IllegalArgumentException(
              "unknown schedule '" + name + "'; allowed: " + String.join(", ", names()));
    };
  }

  public static List<String> names() {
    return List.of("constant", "linear", "cosine");
  }

  record Constant() implements Schedule {
    @Override
    public double factor(int t) {
      return 1.0;
    }
  }

  record Linear(int warmup, int total) implements Schedule {
    public Linear {
      checkSteps(warmup, total);
    }

    @Override
    public double factor(int t) {
      if (t < warmup) return (double) t / Math.max(1, warmup);
      return Math.max(0.0, (double) (total - t) / Math.max(1, total - warmup));
    }
  }

  record Cosine(int warmup, int total) implements Schedule {
    public Cosine {
      checkSteps(warmup, total);
    }

    @Override
    public double factor(int t) {
      if (t < warmup) return (double) t / Math.max(1, warmup);
      if (t > total) return 0.0;
      double progress = (double) (t - warmup) / Math.max(1, total - warmup);
      return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
    }
  }

  private static void checkSteps(int warmup, int total) {
    if (total < 1) throw new IllegalArgumentException("total steps=" + total + " must be >= 1");
    if (warmup < 0 || warmup > total) {
      throw new IllegalArgumentException("warmup steps=" + warmup + " must be in [0, total=" + total + "]");
    }
  }
}
