package dev.loraone.core.theory;

import dev.loraone.core.linalg.Svd;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Experiment (a), random-init alignment (paper Fig. 2; reference 5.2(a)): LoRA's init
 * {@code A ~ N(0, var)}, {@code B = 0}, trained with plain GD, for several init variances. Tracks
 * the risk {@code (1/2)||A B - Delta||_F^2} and the paper's alignment angle
 * {@code ||U_G[:, r*:]^T U_A[:, :r*]||_op} (Thm 3.2: A aligns with the top-r* left singular
 * subspace of G, better for a smaller init).
 *
 * <p>Delta has r* unit singular values (kappa = 1). The angle is computed as
 * {@code sigma_max((I - U_r* U_r*^T) U_A)}, which equals the paper's form for every d and k.
 */
public final class AlignmentExperiment {
  private AlignmentExperiment() {}

  /** Sizes, init variances (run in the given order), GD step size, steps. */
  public record Config(LinearTask.Dims dims, double[] variances, double lr, int steps) {
    public Config {
      if (variances.length == 0 || steps < 1 || !(lr > 0)) {
        throw new IllegalArgumentException("need at least one variance, steps >= 1 and lr > 0");
      }
      for (double v : variances) {
        if (!(v > 0)) throw new IllegalArgumentException("init variances must be > 0, got " + v);
      }
      variances = variances.clone();
    }

    /** The notebook's setup, variances 1, 1e-2, 1e-4, lr 1/64, 1500 steps. */
    public static Config paper() {
      return new Config(LinearTask.Dims.paper(), new double[] {1, 1e-2, 1e-4}, 1.0 / 64, 1500);
    }

    public Config withSteps(int newSteps) {
      return new Config(dims, variances, lr, newSteps);
    }
  }

  /** One init variance: risk and angle after 0..steps updates. */
  public record Run(double variance, double[] risk, double[] angle) {
    public double finalRisk() {
      return risk[risk.length - 1];
    }

    public double finalAngle() {
      return angle[angle.length - 1];
    }
  }

  public record Result(Config config, long seed, List<Run> runs, List<Claim> claims) {}

  /** Runs every variance on one task drawn from {@code seed}; each init has its own stream. */
  public static Result run(Config config, long seed) {
    LinearTask.Dims dims = config.dims();
    double[] ones = new double[dims.rStar()];
    Arrays.fill(ones, 1.0);
    LinearTask task = LinearTask.sample(dims, ones, LinearTask.stream(seed, 0xA1));
    DMatrixRMaj topG = Svd.exact(task.g(), dims.rStar()).u();
    FactoredDescent.Rule rule = FactoredDescent.Rule.plain(config.lr());
    List<Run> runs = new ArrayList<>();
    for (int i = 0; i < config.variances().length; i++) {
      double variance = config.variances()[i];
      LoraStart start = LoraStart.gaussian(dims.d(), dims.k(), dims.r(), variance, LinearTask.stream(seed, 0xA100 + i));
      FactoredDescent gd = new FactoredDescent(task, start);
      double[] risk = new double[config.steps() + 1];
      double[] angle = new double[config.steps() + 1];
      for (int t = 0; t <= config.steps(); t++) {
        if (t > 0) gd.step(rule);
        risk[t] = gd.risk();
        angle[t] = Double.isFinite(risk[t]) ? alignmentAngle(topG, gd.a(), dims.rStar()) : Double.NaN;
      }
      runs.add(new Run(variance, risk, angle));
    }
    return new Result(config, seed, List.copyOf(runs), claims(runs));
  }

  /** {@code ||(I - U U^T) U_A[:, :rStar]||_op} for orthonormal U: the sine of the largest angle. */
  static double alignmentAngle(DMatrixRMaj u, DMatrixRMaj a, int rStar) {
    DMatrixRMaj ua = Svd.exact(a, rStar).u();
    DMatrixRMaj coef = new DMatrixRMaj(u.numCols, rStar);
    CommonOps_DDRM.multTransA(u, ua, coef);
    DMatrixRMaj outside = ua.copy();
    CommonOps_DDRM.multAdd(-1.0, u, coef, outside);
    return Math.min(1.0, Svd.exact(outside, 1).s()[0]);
  }

  private static List<Claim> claims(List<Run> runs) {
    boolean falls = true;
    StringBuilder riskEvidence = new StringBuilder();
    for (Run run : runs) {
      falls &= run.finalRisk() < run.risk()[0];
      riskEvidence.append(String.format("var %.0e: %.3g -> %.3g; ", run.variance(), run.risk()[0], run.finalRisk()));
    }
    List<Run> byVariance = new ArrayList<>(runs);
    byVariance.sort((x, y) -> Double.compare(y.variance(), x.variance()));
    boolean shrinks = byVariance.size() > 1;
    StringBuilder angleEvidence = new StringBuilder();
    for (int i = 0; i < byVariance.size(); i++) {
      Run run = byVariance.get(i);
      if (i > 0) shrinks &= run.finalAngle() < byVariance.get(i - 1).finalAngle();
      angleEvidence.append(String.format("var %.0e: %.3f; ", run.variance(), run.finalAngle()));
    }
    return List.of(
        new Claim("risk falls from its start for every init variance", falls, trim(riskEvidence)),
        new Claim("a smaller init variance ends with a smaller alignment angle", shrinks, trim(angleEvidence)));
  }

  private static String trim(StringBuilder sb) {
    return sb.length() >= 2 ? sb.substring(0, sb.length() - 2) : sb.toString();
  }
}
