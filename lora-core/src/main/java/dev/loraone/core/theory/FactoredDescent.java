package dev.loraone.core.theory;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;

/**
 * Gradient descent on the LoRA factors of the linear task, plain or preconditioned, in double
 * precision.
 *
 * <pre>
 *   W      = W0' + A B,   W0' = W0 + baseOffset,   A:[d,r] B:[r,k]
 *   grad_W = Sxx (W - W0) - G = Sxx A B - C,        C = G - Sxx baseOffset  (fixed, [d,k])
 *   g_A    = grad_W B^T = (Sxx A)(B B^T) - C B^T    [d,r]
 *   g_B    = A^T grad_W = (A^T Sxx A) B - A^T C     [r,k]
 *   plain:          A -= eta g_A,                     B -= eta g_B
 *   preconditioned: A -= eta g_A (B B^T + lambda I)^-1, B -= eta (A^T A + lambda I)^-1 g_B
 * </pre>
 *
 * Both factor updates use the old A and B (simultaneous, as in the paper's eq. 9). Writing the
 * gradients through C keeps a step at O((d + k) d r) flops (no N-sized product, no d x d x k one)
 * and never touches the large W0, so the risk can fall to ~1e-28 before round-off stops it.
 * The risk is {@code (1/2)||baseOffset + A B - Delta||_F^2}.
 */
public final class FactoredDescent {

  /** One update rule: a step size and, for the preconditioned rule, the ridge lambda > 0. */
  public record Rule(boolean preconditioned, double lr, double lambda) {
    public Rule {
      if (!(lr > 0) || (preconditioned && !(lambda > 0))) {
        throw new IllegalArgumentException(
            "need lr > 0 and, when preconditioned, lambda > 0: lr=" + lr + " lambda=" + lambda);
      }
    }

    public static Rule plain(double lr) {
      return new Rule(false, lr, 0.0);
    }

    public static Rule preconditioned(double lr, double lambda) {
      return new Rule(true, lr, lambda);
    }

    @Override
    public String toString() {
      return preconditioned ? "precGD(eta=" + lr + ", lambda=" + lambda + ")" : "GD(lr=" + lr + ")";
    }
  }

  private final DMatrixRMaj sxx;
  private final DMatrixRMaj c;
  private final DMatrixRMaj offsetMinusDelta;
  private final DMatrixRMaj a;
  private final DMatrixRMaj b;
  // work buffers, reused every step
  private final DMatrixRMaj sxxA;
  private final DMatrixRMaj bbt;
  private final DMatrixRMaj atSxxA;
  private final DMatrixRMaj gA;
  private final DMatrixRMaj gB;
  private final DMatrixRMaj gram;
  private final DMatrixRMaj gramInv;
  private final DMatrixRMaj stepA;
  private final DMatrixRMaj stepB;
  private final DMatrixRMaj err;

  public FactoredDescent(LinearTask task, LoraStart start) {
    int d = task.dims().d();
    int k = task.dims().k();
    int r = start.rank();
    if (start.a().numRows != d || start.b().numCols != k) {
      throw new IllegalArgumentException("start factors are " + d + "x" + r + " / " + r + "x" + k + " expected, got "
          + start.a().numRows + "x" + r + " / " + r + "x" + start.b().numCols);
    }
    this.sxx = task.sxx();
    this.a = start.a().copy();
    this.b = start.b().copy();
    this.c = task.g().copy();
    CommonOps_DDRM.multAdd(-1.0, sxx, start.baseOffset(), c);
    this.offsetMinusDelta = new DMatrixRMaj(d, k);
    CommonOps_DDRM.subtract(start.baseOffset(), task.delta(), offsetMinusDelta);
    this.sxxA = new DMatrixRMaj(d, r);
    this.bbt = new DMatrixRMaj(r, r);
    this.atSxxA = new DMatrixRMaj(r, r);
    this.gA = new DMatrixRMaj(d, r);
    this.gB = new DMatrixRMaj(r, k);
    this.gram = new DMatrixRMaj(r, r);
    this.gramInv = new DMatrixRMaj(r, r);
    this.stepA = new DMatrixRMaj(d, r);
    this.stepB = new DMatrixRMaj(r, k);
    this.err = new DMatrixRMaj(d, k);
  }

  /** One simultaneous update of A and B. */
  public void step(Rule rule) {
    CommonOps_DDRM.mult(sxx, a, sxxA);
    CommonOps_DDRM.multTransB(b, b, bbt);
    CommonOps_DDRM.multTransA(a, sxxA, atSxxA);
    CommonOps_DDRM.mult(sxxA, bbt, gA);
    CommonOps_DDRM.multAddTransB(-1.0, c, b, gA);
    CommonOps_DDRM.mult(atSxxA, b, gB);
    CommonOps_DDRM.multAddTransA(-1.0, a, c, gB);
    if (rule.preconditioned()) {
      CommonOps_DDRM.mult(gA, ridgeInverse(bbt, rule.lambda()), stepA);
      CommonOps_DDRM.multTransA(a, a, gram);
      CommonOps_DDRM.mult(ridgeInverse(gram, rule.lambda()), gB, stepB);
    } else {
      stepA.setTo(gA);
      stepB.setTo(gB);
    }
    CommonOps_DDRM.addEquals(a, -rule.lr(), stepA);
    CommonOps_DDRM.addEquals(b, -rule.lr(), stepB);
  }

  /** {@code (m + lambda I)^-1} for a symmetric positive semi-definite r x r m, via Cholesky. */
  private DMatrixRMaj ridgeInverse(DMatrixRMaj m, double lambda) {
    DMatrixRMaj shifted = m.copy();
    for (int i = 0; i < shifted.numRows; i++) shifted.add(i, i, lambda);
    if (!CommonOps_DDRM.invertSPD(shifted, gramInv)) {
      throw new IllegalStateException("preconditioner is not positive definite (factors diverged?)");
    }
    return gramInv;
  }

  /** {@code (1/2) ||baseOffset + A B - Delta||_F^2}. */
  public double risk() {
    err.setTo(offsetMinusDelta);
    CommonOps_DDRM.multAdd(a, b, err);
    double f = NormOps_DDRM.normF(err);
    return 0.5 * f * f;
  }

  /** The current A (a live view; copy before keeping it). */
  public DMatrixRMaj a() {
    return a;
  }

  /** The current B (a live view; copy before keeping it). */
  public DMatrixRMaj b() {
    return b;
  }

  /**
   * Risk after 0..steps updates; once the risk stops being finite the remaining entries are NaN
   * (a diverged run, reported rather than thrown).
   */
  public double[] riskCurve(Rule rule, int steps) {
    double[] curve = new double[steps + 1];
    curve[0] = risk();
    for (int t = 1; t <= steps; t++) {
      if (!Double.isFinite(curve[t - 1])) {
        curve[t] = Double.NaN;
        continue;
      }
      step(rule);
      curve[t] = risk();
    }
    return curve;
  }

  /**
   * The number of updates until {@code risk() <= threshold} (0 if it already is), or -1 if
   * {@code maxSteps} updates do not get there or the run diverges.
   */
  public int stepsToReach(Rule rule, double threshold, int maxSteps) {
    for (int t = 0; t <= maxSteps; t++) {
      double risk = risk();
      if (risk <= threshold) return t;
      if (!Double.isFinite(risk) || t == maxSteps) return -1;
      step(rule);
    }
    return -1;
  }
}
