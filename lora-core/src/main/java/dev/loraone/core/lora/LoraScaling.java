package dev.loraone.core.lora;

/**
 * The LoRA scaling factor {@code s} in {@code W = W0 + s * B * A}.
 *
 * <p>{@code s = alpha / r} (Hu et al. 2021), or {@code s = alpha / sqrt(r)} with rsLoRA
 * (Kalajdzievski 2023; PEFT {@code use_rslora=True}, which LoRA-One uses with alpha = 16).
 *
 * @param alpha the LoRA alpha, finite and &gt; 0
 * @param r the adapter rank, &gt;= 1
 * @param rslora whether to divide by {@code sqrt(r)} instead of {@code r}
 */
public record LoraScaling(double alpha, int r, boolean rslora) {

  public LoraScaling {
    if (r < 1) {
      throw new IllegalArgumentException("rank r=" + r + " must be >= 1");
    }
    if (!Double.isFinite(alpha) || alpha <= 0) {
      throw new IllegalArgumentException("alpha=" + alpha + " must be finite and > 0");
    }
  }

  /** {@code alpha / r}: the original LoRA scaling. */
  public static LoraScaling standard(double alpha, int r) {
    return new LoraScaling(alpha, r, false);
  }

  /** {@code alpha / sqrt(r)}: rank-stabilised scaling. */
  public static LoraScaling rank(double alpha, int r) {
    return new LoraScaling(alpha, r, true);
  }

  /** The factor {@code s}. */
  public double factor() {
    return rslora ? alpha / Math.sqrt(r) : alpha / r;
  }
}
