package dev.loraone.core.optim;

import java.util.List;
import java.util.Locale;

/** Registry of optimizers by name: {@code adamw | scaled-adamw | scaled-gd}. */
public final class Optimizers {
  private Optimizers() {}

  /** A fresh optimizer called {@code name} (case-insensitive). */
  public static LoraOptimizer create(String name, OptimizerConfig config) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case AdamW.NAME -> new AdamW(config);
      case ScaledAdamW.NAME -> new ScaledAdamW(config);
      case ScaledGD.NAME -> new ScaledGD(config);
      default ->
          throw new IllegalArgumentException(
              "unknown optimizer '" + name + "'; allowed: " + String.join(", ", names()));
    };
  }

  public static List<String> names() {
    return List.of(AdamW.NAME, ScaledAdamW.NAME, ScaledGD.NAME);
  }
}
