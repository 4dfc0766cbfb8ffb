package dev.loraone.core.optim;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The optimizer side of a fine-tuning job: double-precision master copies of every adapter pair
 * ({@code A:[r,in]}, {@code B:[out,r]}) and of the fully trained dense tensors (a task head), and
 * the reduction rule of one step.
 *
 * <pre>
 *   g     = (1/d) * sum_k g_k        micro-batch gradients added in index order, in double; d = micro-batches or tokens
 *   check   every entry finite, else fail before any update (the masters keep the last good step)
 *   clip    joint global L2 norm over pairs and dense tensors (torch clip_grad_norm_)
 *   step    pairs: LoRA optimizer (AdamW | Scaled AdamW | ScaledGD); dense: AdamW; same lr schedule
 * </pre>
 * The single-process fine-tune and the coordinator both run exactly this, which is what makes a
 * distributed job's adapter bit-identical to the single-process reference.
 */
public final class AdapterTrainer {
  private final List<String> modules;
  private final List<LoraPair> pairs;
  private final List<DMatrixRMaj> dense;
  private final OptimizerConfig config;
  private final double maxGradNorm;
  private final LoraOptimizer pairOptimizer;
  private final DenseAdamW denseOptimizer;

  /** What a step did: the learning rate of A, the global gradient norm before clipping. */
  public record StepInfo(int step, double lr, double gradNorm) {}

  /** A run that produced NaN or infinity; the message says where, and that nothing was updated. */
  public static final class DivergedException extends IllegalStateException {
    public DivergedException(String message) {
      super(message);
    }
  }

  /**
   * @param config optimizer settings; its own clipping must be off ({@code maxGradNorm} here clips
   *     jointly)
   */
  public AdapterTrainer(
      String optimizer,
      OptimizerConfig config,
      double maxGradNorm,
      List<String> modules,
      List<LoraPair> pairs,
      List<DMatrixRMaj> dense) {
    if (modules.size() != pairs.size())
      throw new IllegalArgumentException(
          modules.size() + " module names for " + pairs.size() + " pairs");
    if (pairs.isEmpty() && dense.isEmpty())
      throw new IllegalArgumentException("nothing to train: no adapter pairs and no dense tensors");
    this.modules = List.copyOf(modules);
    this.pairs = new ArrayList<>();
    for (LoraPair p : pairs) this.pairs.add(p.copy());
    this.dense = new ArrayList<>();
    for (DMatrixRMaj d : dense) this.dense.add(d.copy());
    this.config = config;
    this.maxGradNorm = maxGradNorm;
    this.pairOptimizer = pairs.isEmpty() ? null : Optimizers.create(optimizer, config);
    this.denseOptimizer = dense.isEmpty() ? null : new DenseAdamW(config);
  }

  public List<String> modules() {
    return modules;
  }

  /** The masters (live views: do not modify). */
  public List<LoraPair> pairs() {
    return pairs;
  }

  public List<DMatrixRMaj> dense() {
    return dense;
  }

  /** Steps taken so far. */
  public int steps() {
    return pairOptimizer != null ? pairOptimizer.steps() : denseOptimizer.steps();
  }

  /** Starts the gradient sum of the next step. */
  public Accumulator accumulate() {
    return new Accumulator();
  }

  /** The in-order sum of one step's micro-batch gradients. */
  public final class Accumulator {
    private final List<LoraPair> sum = new ArrayList<>();
    private final List<DMatrixRMaj> denseSum = new ArrayList<>();
    private int added;

    private Accumulator() {
      for (LoraPair p : pairs)
        sum.add(
            new LoraPair(
                new DMatrixRMaj(p.a().numRows, p.a().numCols),
                new DMatrixRMaj(p.b().numRows, p.b().numCols)));
      for (DMatrixRMaj d : dense) denseSum.add(new DMatrixRMaj(d.numRows, d.numCols));
    }

    /**
     * Adds one micro-batch: {@code ab[i] = {gA, gB}} of module i (row-major floats), {@code d[j]} of
     * dense tensor j. Call in micro-batch index order.
     */
    public Accumulator add(float[][][] ab, float[][] d) {
      if (ab.length != sum.size() || d.length != denseSum.size()) {
        throw new IllegalArgumentException(
            "gradients for "
                + ab.length
                + " pairs and "
                + d.length
                + " dense tensors; expected "
                + sum.size()
                + " and "
                + denseSum.size());
      }
      for (int i = 0; i < ab.length; i++) {
        addInto(sum.get(i).a(), ab[i][0], modules.get(i) + ".lora_A");
        addInto(sum.get(i).b(), ab[i][1], modules.get(i) + ".lora_B");
      }
      for (int j = 0; j < d.length; j++) addInto(denseSum.get(j), d[j], "dense[" + j + "]");
      added++;
      return this;
    }

    public int added() {
      return added;
    }

    /**
     * Divides by {@code divisor}, checks, clips and steps; throws {@link DivergedException} before
     * any update on NaN.
     */
    public StepInfo apply(double divisor) {
      if (added == 0) throw new IllegalStateException("no micro-batch gradients were added");
      int step = steps() + 1;
      double f = 1.0 / divisor;
      for (int i = 0; i < sum.size(); i++) {
        CommonOps_DDRM.scale(f, sum.get(i).a());
        CommonOps_DDRM.scale(f, sum.get(i).b());
        if (!Matrices.isFinite(sum.get(i).a()) || !Matrices.isFinite(sum.get(i).b())) {
          throw new DivergedException("step " + step + ": non-finite gradient in " + modules.get(i)
              + "; stopping before the update, the adapters keep step " + (step - 1) + "'s values (try a lower lr)");
        }
      }
      for (DMatrixRMaj d : denseSum) {
        CommonOps_DDRM.scale(f, d);
        if (!Matrices.isFinite(d)) {
          throw new DivergedException("step " + step + ": non-finite gradient in the head; stopping before the update");
        }
      }
      double norm = GradClip.clipGlobalNorm(sum, denseSum, maxGradNorm);
      double lr = config.lr() * config.schedule().factor(steps());
      if (pairOptimizer != null) lr = pairOptimizer.step(pairs, sum).lrA();
      if (denseOptimizer != null) denseOptimizer.step(dense, denseSum);
      return new StepInfo(step, lr, norm);
    }

    private void addInto(DMatrixRMaj acc, float[] v, String what) {
      if (v.length != acc.numRows * acc.numCols) {
        throw new IllegalArgumentException(what + ": " + v.length + " values for " + acc.numRows + "x" + acc.numCols);
      }
      for (int k = 0; k < v.length; k++) acc.data[k] += v[k];
    }
  }

  /** Optimizer state for checkpoints: pair moments, dense moments, step count. */
  public record Snapshot(OptimizerSnapshot pairs, int denseSteps, List<DMatrixRMaj[]> denseMoments) {}

  public Snapshot snapshot() {
    return new Snapshot(
        pairOptimizer == null ? null : pairOptimizer.snapshot(),
        denseOptimizer == null ? 0 : denseOptimizer.steps(),
        denseOptimizer == null ? List.of() : denseOptimizer.moments());
  }

  /** Restores masters and optimizer state saved from a trainer of the same shape. */
  public void restore(List<LoraPair> masters, List<DMatrixRMaj> denseMasters, Snapshot s) {
    for (int i = 0; i < pairs.size(); i++) {
      pairs.get(i).a().setTo(masters.get(i).a());
      pairs.get(i).b().setTo(masters.get(i).b());
    }
    for (int j = 0; j < dense.size(); j++) dense.get(j).setTo(denseMasters.get(j));
    if (pairOptimizer != null && s.pairs() != null) pairOptimizer.restore(s.pairs());
    if (denseOptimizer != null) denseOptimizer.restore(s.denseSteps(), s.denseMoments());
  }
}
