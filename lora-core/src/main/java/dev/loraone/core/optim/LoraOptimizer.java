package dev.loraone.core.optim;

import dev.loraone.core.lora.LoraPair;
import java.util.List;

/**
 * An optimizer over the (A, B) pairs of every adapted layer, stateful per pair (like a torch
 * optimizer). Shape legend: {@code A:[r,in]  B:[out,r]}; grads have the shapes of their params.
 *
 * <p>Pair {@code i} of {@code params} is updated in place from pair {@code i} of {@code grads};
 * the list of pairs and their shapes must stay the same across steps. The caller's grads are not
 * modified (clipping works on a copy).
 */
public interface LoraOptimizer {

  /** Registry name, e.g. {@code scaled-adamw}. */
  String name();

  OptimizerConfig config();

  /** One optimizer step over all pairs. */
  StepInfo step(List<LoraPair> params, List<LoraPair> grads);

  /** Steps taken so far. */
  int steps();

  /** Moments and step count, for checkpoints. */
  OptimizerSnapshot snapshot();

  /** Replaces moments and step count with a snapshot taken from an optimizer of the same kind. */
  void restore(OptimizerSnapshot snapshot);

  /**
   * What one step did.
   *
   * @param step 1-based index of the step just taken
   * @param lrA learning rate applied to the A factors (base lr times schedule factor)
   * @param lrB learning rate applied to the B factors ({@code lrA * loraPlusRatio})
   * @param gradNorm global L2 norm of all grads before clipping
   * @param clipped whether the grads were scaled down
   */
  record StepInfo(int step, double lrA, double lrB, double gradNorm, boolean clipped) {}
}
