package dev.loraone.core.init;

import dev.loraone.core.svd.SvdMethod;
import java.util.OptionalDouble;

/**
 * Method parameters shared by the init strategies.
 *
 * @param gamma the stability divisor: LoRA-One's {@code stable_gamma} (default 128, reference
 *     2.3) or LoRA-GA's {@code gamma} (default 16, reference 6); empty means the method's default
 * @param svd how spectral inits (LoRA-One, PiSSA, LoRA-GA) take their SVD; default exact
 */
public record InitParams(OptionalDouble gamma, SvdMethod svd) {

  public InitParams {
    if (gamma == null) gamma = OptionalDouble.empty();
    if (svd == null) svd = SvdMethod.exact();
    if (gamma.isPresent() && (!Double.isFinite(gamma.getAsDouble()) || gamma.getAsDouble() <= 0)) {
      throw new IllegalArgumentException("gamma=" + gamma.getAsDouble() + " must be finite and > 0");
    }
  }

  /** Method-default gamma, exact SVD. */
  public static InitParams defaults() {
    return new InitParams(OptionalDouble.empty(), SvdMethod.exact());
  }

  public InitParams withGamma(double g) {
    return new InitParams(OptionalDouble.of(g), svd);
  }

  public InitParams withSvd(SvdMethod method) {
    return new InitParams(gamma, method);
  }

  /** The explicit gamma, or {@code methodDefault}. */
  public double gammaOr(double methodDefault) {
    return gamma.orElse(methodDefault);
  }
}
