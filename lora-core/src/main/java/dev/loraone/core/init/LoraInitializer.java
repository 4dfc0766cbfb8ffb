package dev.loraone.core.init;

/**
 * One LoRA init rule (a strategy; pick one by name with {@link LoraInitializers#forName}).
 *
 * <p>Shape legend: {@code W0:[out,in]  A0:[r,in]  B0:[out,r]  dW = s*B*A}. Implementations are
 * stateless and thread-safe; all randomness comes from {@link InitContext#seed()} or the SVD
 * method's seed.
 */
public interface LoraInitializer {

  /** The registry name, e.g. {@code lora-one}. */
  String name();

  /** A0, B0 and the base offset for one layer; throws IllegalArgumentException on bad input. */
  InitResult init(InitContext ctx);
}
