package dev.loraone.core.init;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/**
 * Default LoRA init (Hu et al. 2021; PEFT {@code init_lora_weights=True}): A is Kaiming-uniform
 * with {@code a = sqrt(5)} as in PyTorch's {@code nn.Linear}, B is zero, so {@code s*B0*A0 = 0}.
 *
 * <pre>
 *   gain  = sqrt(2 / (1 + a^2)),  fan_in = in           (torch.nn.init.kaiming_uniform_)
 *   bound = gain * sqrt(3 / fan_in)                     (= 1/sqrt(in) for a = sqrt(5))
 *   A0 ~ U(-bound, bound)  A0:[r,in]      B0 = 0  B0:[out,r]      W0 unchanged
 * </pre>
 *
 * Entries are filled row-major from {@code new Random(seed).nextDouble()}.
 */
public final class KaimingUniformInit implements LoraInitializer {
  public static final String NAME = "lora";
  /** PyTorch's {@code a} for {@code nn.Linear} and PEFT's lora_A. */
  public static final double NEGATIVE_SLOPE = Math.sqrt(5.0);

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public InitResult init(InitContext ctx) {
    double bound = bound(ctx.in());
    Random rng = new Random(ctx.seed());
    DMatrixRMaj a = new DMatrixRMaj(ctx.r(), ctx.in());
    for (int i = 0; i < a.data.length; i++) a.data[i] = (2.0 * rng.nextDouble() - 1.0) * bound;
    return InitResult.unchangedBase(a, new DMatrixRMaj(ctx.out(), ctx.r()));
  }

  /** {@code gain * sqrt(3 / fanIn)} with {@code gain = sqrt(2 / (1 + a^2))}. */
  public static double bound(int fanIn) {
    double gain = Math.sqrt(2.0 / (1.0 + NEGATIVE_SLOPE * NEGATIVE_SLOPE));
    return gain * Math.sqrt(3.0 / fanIn);
  }
}
