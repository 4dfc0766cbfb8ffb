package dev.loraone.core.optim;

import dev.loraone.core.linalg.Matrices;
import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * {@code torch.optim.AdamW} over plain dense parameters: the fully trained modules that sit next
 * to the adapters (PEFT's {@code modules_to_save}, e.g. a classification head {@code W:[C,H]},
 * {@code b:[C,1]}). Same update as {@link AdamW}, same {@link OptimizerConfig} (lr, betas, eps,
 * weight decay, schedule, bias correction); clipping is the caller's, over all grads together.
 */
public final class DenseAdamW {
  private final OptimizerConfig config;
  private final List<DMatrixRMaj> m = new ArrayList<>();
  private final List<DMatrixRMaj> v = new ArrayList<>();
  private int steps;

  public DenseAdamW(OptimizerConfig config) {
    if (config == null) throw new IllegalArgumentException("optimizer config is required");
    this.config = config;
  }

  /** One step: {@code params.get(i)} is updated in place from {@code grads.get(i)}. */
  public void step(List<DMatrixRMaj> params, List<DMatrixRMaj> grads) {
    if (params.size() != grads.size()) {
      throw new IllegalArgumentException(params.size() + " params but " + grads.size() + " grads; they must match");
    }
    double lr = config.lr() * config.schedule().factor(steps);
    int t = steps + 1;
    boolean bias = config.biasCorrectionOr(true);
    double bc1 = bias ? 1 - Math.pow(config.beta1(), t) : 1;
    double bc2 = bias ? 1 - Math.pow(config.beta2(), t) : 1;
    for (int i = 0; i < params.size(); i++) {
      DMatrixRMaj p = params.get(i);
      DMatrixRMaj g = grads.get(i);
      if (p.numRows != g.numRows || p.numCols != g.numCols) {
        throw new IllegalArgumentException(
            "grads["
                + i
                + "] is "
                + g.numRows
                + "x"
                + g.numCols
                + " but params["
                + i
                + "] is "
                + p.numRows
                + "x"
                + p.numCols);
      }
      Matrices.requireFinite(g, "grads[" + i + "]");
      if (m.size() <= i) {
        m.add(new DMatrixRMaj(p.numRows, p.numCols));
        v.add(new DMatrixRMaj(p.numRows, p.numCols));
      }
      AdamRule.decay(p, lr, config.weightDecay());
      AdamRule.apply(p, g, m.get(i), v.get(i), config.beta1(), config.beta2(), config.eps(), lr / bc1, Math.sqrt(bc2));
    }
    steps = t;
  }

  public int steps() {
    return steps;
  }

  /** First and second moments (copies), in parameter order, for checkpoints. */
  public List<DMatrixRMaj[]> moments() {
    List<DMatrixRMaj[]> out = new ArrayList<>();
    for (int i = 0; i < m.size(); i++) out.add(new DMatrixRMaj[] {m.get(i).copy(), v.get(i).copy()});
    return out;
  }

  /** Restores moments and the step count saved by {@link #moments()} and {@link #steps()}. */
  public void restore(int steps, List<DMatrixRMaj[]> moments) {
    m.clear();
    v.clear();
    for (DMatrixRMaj[] mv : moments) {
      m.add(mv[0].copy());
      v.add(mv[1].copy());
    }
    this.steps = steps;
  }
}
