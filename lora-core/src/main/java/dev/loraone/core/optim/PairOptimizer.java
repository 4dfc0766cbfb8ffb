package dev.loraone.core.optim;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * The bookkeeping every {@link LoraOptimizer} shares, so each subclass holds only its update rule:
 * input checks, a defensive copy of the grads, global-norm clipping, the learning rates of step
 * {@code t} ({@code lrA = lr * schedule(t)}, {@code lrB = lrA * loraPlusRatio}), the step count,
 * per-pair Adam moments and preconditioner-fallback counting.
 */
public abstract class PairOptimizer implements LoraOptimizer {
  protected final OptimizerConfig config;
  private final List<OptimizerSnapshot.PairMoments> moments = new ArrayList<>();
  private List<LoraPair> shapes;
  private int steps;
  private long fallbacks;

  protected PairOptimizer(OptimizerConfig config) {
    if (config == null) throw new IllegalArgumentException("optimizer config is required");
    this.config = config;
  }

  /** Updates {@code p} in place for step {@code t} (1-based) from the clipped grads {@code g}. */
  protected abstract void update(int index, LoraPair p, LoraPair g, double lrA, double lrB, int t);

  @Override
  public final StepInfo step(List<LoraPair> params, List<LoraPair> grads) {
    check(params, grads);
    List<LoraPair> g = new ArrayList<>(grads.size());
    for (LoraPair pair : grads) g.add(pair.copy());
    double norm;
    boolean clipped = false;
    if (Double.isInfinite(config.maxGradNorm())) {
      norm = GradClip.globalNorm(g);
    } else {
      norm = GradClip.clipGlobalNorm(g, config.maxGradNorm());
      clipped = config.maxGradNorm() / (norm + GradClip.EPS) < 1.0;
    }
    double lrA = config.lr() * config.schedule().factor(steps);
    double lrB = lrA * config.loraPlusRatio();
    int t = steps + 1;
    for (int i = 0; i < params.size(); i++) update(i, params.get(i), g.get(i), lrA, lrB, t);
    steps = t;
    return new StepInfo(t, lrA, lrB, norm, clipped);
  }

  @Override
  public OptimizerConfig config() {
    return config;
  }

  @Override
  public int steps() {
    return steps;
  }

  /** How many times a preconditioner's Cholesky failed and the identity was used instead. */
  public long preconditionerFallbacks() {
    return fallbacks;
  }

  /** Counts one identity fallback and returns {@code g} unchanged. */
  protected DMatrixRMaj fallback(DMatrixRMaj g) {
    fallbacks++;
    return g;
  }

  /** The Adam moments of pair {@code index}, zero on first use. */
  protected OptimizerSnapshot.PairMoments moments(int index, LoraPair p) {
    while (moments.size() <= index) moments.add(null);
    OptimizerSnapshot.PairMoments m = moments.get(index);
    if (m == null) {
      m = new OptimizerSnapshot.PairMoments(new DMatrixRMaj(p.rank(), p.in()), new DMatrixRMaj(p.rank(), p.in()),
          new DMatrixRMaj(p.out(), p.rank()), new DMatrixRMaj(p.out(), p.rank()));
      moments.set(index, m);
    }
    return m;
  }

  @Override
  public OptimizerSnapshot snapshot() {
    List<OptimizerSnapshot.PairMoments> copy = new ArrayList<>();
    for (OptimizerSnapshot.PairMoments m : moments) copy.add(m.copy());
    return new OptimizerSnapshot(steps, copy);
  }

  @Override
  public void restore(OptimizerSnapshot snapshot) {
    moments.clear();
    for (OptimizerSnapshot.PairMoments m : snapshot.moments()) moments.add(m.copy());
    steps = snapshot.steps();
  }

  private void check(List<LoraPair> params, List<LoraPair> grads) {
    if (params.size() != grads.size()) {
      throw new IllegalArgumentException(
          params.size() + " param pairs but " + grads.size() + " grad pairs; they must match");
    }
    if (params.isEmpty()) throw new IllegalArgumentException("need at least one (A, B) pair to step");
    for (int i = 0; i < params.size(); i++) {
      LoraPair p = params.get(i);
      LoraPair g = grads.get(i);
      if (!p.sameShape(g)) {
        throw new IllegalArgumentException(
            "grads["
                + i
                + "] shapes differ from params["
                + i
                + "] (A "
                + p.rank()
                + "x"
                + p.in()
                + ", B "
                + p.out()
                + "x"
                + p.rank()
                + ")");
      }
      Matrices.requireFinite(g.a(), "grads[" + i + "].A");
      Matrices.requireFinite(g.b(), "grads[" + i + "].B");
    }
    if (shapes == null) {
      shapes = List.copyOf(params);
      return;
    }
    if (shapes.size() != params.size()) {
      throw new IllegalArgumentException(
          "step has "
              + params.size()
              + " pairs but the optimizer was started with "
              + shapes.size());
    }
    for (int i = 0; i < params.size(); i++) {
      if (!shapes.get(i).sameShape(params.get(i))) {
        throw new IllegalArgumentException("params[" + i + "] changed shape since the first step");
      }
    }
  }
}
