package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/**
 * PEFT's {@code init_lora_weights="gaussian"}: {@code A0 ~ N(0, (1/r)^2)} (std {@code 1/r}),
 * {@code B0 = 0}, W0 unchanged. Shapes {@code A0:[r,in]  B0:[out,r]}; A0 is filled row-major
 * from {@code new Random(seed).nextGaussian()}.
 */
public final class GaussianInit implements LoraInitializer {
  public static final String NAME = "gaussian";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public InitResult init(InitContext ctx) {
    DMatrixRMaj a = Matrices.gaussian(ctx.r(), ctx.in(), new Random(ctx.seed()), 1.0 / ctx.r());
    return InitResult.unchangedBase(a, new DMatrixRMaj(ctx.out(), ctx.r()));
  }
}
