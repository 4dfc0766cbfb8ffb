package dev.loraone.core.theory;

import dev.loraone.core.linalg.Svd;
import java.util.Random;
import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;

/**
 * The noiseless linear fine-tuning task of the LoRA-One paper (Zhang, Liu, Chen, ICML 2025, sections
 * 2-4; reference section 5.1): a pretrained weight W0, a low-rank shift Delta, and labels
 * {@code Y = X (W0 + Delta)}.
 *
 * <pre>
 *   X:[N,d] ~ N(0,1)   W0:[d,k] ~ N(0,1)   Delta = P diag(sigma) Q^T, P:[d,r*] Q:[k,r*]
 *   L(W)  = (1/2N) ||X W - Y||_F^2
 *   G     = -grad L(W0) = X^T (Y - X W0) / N   : [d,k]   (the paper's G, eq. 5)
 *   Sxx   = X^T X / N                          : [d,d]
 *   -grad L(W) = G - Sxx (W - W0)
 * </pre>
 *
 * <p>P and Q are the top-r* singular vectors of a Gaussian matrix, so Delta has exactly the given
 * singular values. Once Sxx and G are formed no N-sized product is needed again. G is formed from
 * the residual {@code Y - X W0} rather than as {@code Sxy - Sxx W0}: that avoids cancelling two
 * terms of size |W0| and lowers the risk's round-off floor in experiment (b) from ~1e-25 to
 * ~1e-28, the level of the numpy check run (reference 5.4). {@link #loss}
 * keeps the direct form as the oracle the tests check the fast gradients against.
 */
public final class LinearTask {

  /** Problem sizes: input d, output k, LoRA rank r, true rank r*, sample count N. */
  public record Dims(int d, int k, int r, int rStar, int n) {
    public Dims {
      if (d < 1 || k < 1 || r < 1 || rStar < 1 || n < 1) {
        throw new IllegalArgumentException("all sizes must be positive: " + this);
      }
      if (rStar > Math.min(d, k) || 2 * r > Math.min(d, k)) {
        throw new IllegalArgumentException(
            "need r* <= min(d,k) and 2r <= min(d,k) (LoRA-GA takes 2r directions): " + this);
      }
    }

    /** The official toy notebook's sizes: d = k = 100, r = 8, r* = 4, N = 16d. */
    public static Dims paper() {
      return new Dims(100, 100, 8, 4, 1600);
    }
  }

  private final Dims dims;
  private final DMatrixRMaj x;
  private final DMatrixRMaj y;
  private final DMatrixRMaj w0;
  private final DMatrixRMaj delta;
  private final DMatrixRMaj sxx;
  private final DMatrixRMaj g;

  private LinearTask(Dims dims, DMatrixRMaj x, DMatrixRMaj w0, DMatrixRMaj delta) {
    this.dims = dims;
    this.x = x;
    this.w0 = w0;
    this.delta = delta;
    DMatrixRMaj target = new DMatrixRMaj(dims.d(), dims.k());
    CommonOps_DDRM.add(w0, delta, target);
    this.y = new DMatrixRMaj(dims.n(), dims.k());
    CommonOps_DDRM.mult(x, target, y);
    this.sxx = new DMatrixRMaj(dims.d(), dims.d());
    CommonOps_DDRM.multTransA(1.0 / dims.n(), x, x, sxx);
    DMatrixRMaj residual = y.copy();
    CommonOps_DDRM.multAdd(-1.0, x, w0, residual);
    this.g = new DMatrixRMaj(dims.d(), dims.k());
    CommonOps_DDRM.multTransA(1.0 / dims.n(), x, residual, g);
  }

  /**
   * Draws X, W0 and the Gaussian matrix whose singular vectors give Delta, in that order, from one
   * stream. The draws do not depend on {@code singularValues}, so one seed gives the same X, W0, P
   * and Q for every spectrum (the condition-number sweep relies on this).
   */
  public static LinearTask sample(Dims dims, double[] singularValues, Random rng) {
    if (singularValues.length != dims.rStar()) {
      throw new IllegalArgumentException(
          "need r*=" + dims.rStar() + " singular values for Delta, got " + singularValues.length);
    }
    DMatrixRMaj x = gaussian(dims.n(), dims.d(), rng);
    DMatrixRMaj w0 = gaussian(dims.d(), dims.k(), rng);
    Svd pq = Svd.exact(gaussian(dims.d(), dims.k(), rng), dims.rStar());
    Svd shaped = new Svd(pq.u(), singularValues.clone(), pq.v());
    return new LinearTask(dims, x, w0, shaped.reconstruct());
  }

  /** A {@link Random} for one named use of a seed, so streams for different uses never overlap. */
  public static Random stream(long seed, long salt) {
    return new Random(new SplittableRandom(seed ^ (salt * 0x9E3779B97F4A7C15L)).nextLong());
  }

  static DMatrixRMaj gaussian(int rows, int cols, Random rng) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    for (int i = 0; i < m.data.length; i++) m.data[i] = rng.nextGaussian();
    return m;
  }

  /** {@code -grad L(W) = G - Sxx (W - W0)}, shape [d,k]. */
  public DMatrixRMaj negativeGradient(DMatrixRMaj w) {
    DMatrixRMaj shift = new DMatrixRMaj(dims.d(), dims.k());
    CommonOps_DDRM.subtract(w, w0, shift);
    DMatrixRMaj out = g.copy();
    CommonOps_DDRM.multAdd(-1.0, sxx, shift, out);
    return out;
  }

  /** The loss in its direct form {@code (1/2N) ||X W - Y||_F^2}: slow, for checks only. */
  public double loss(DMatrixRMaj w) {
    DMatrixRMaj r = new DMatrixRMaj(dims.n(), dims.k());
    CommonOps_DDRM.mult(x, w, r);
    CommonOps_DDRM.subtractEquals(r, y);
    double f = NormOps_DDRM.normF(r);
    return f * f / (2.0 * dims.n());
  }

  /** The paper's risk {@code (1/2) ||deltaW - Delta||_F^2} of an effective update deltaW = W - W0. */
  public double risk(DMatrixRMaj deltaW) {
    DMatrixRMaj e = new DMatrixRMaj(dims.d(), dims.k());
    CommonOps_DDRM.subtract(deltaW, delta, e);
    double f = NormOps_DDRM.normF(e);
    return 0.5 * f * f;
  }

  public Dims dims() {
    return dims;
  }

  /** The pretrained weight W0 (shared, do not modify). */
  public DMatrixRMaj w0() {
    return w0;
  }

  /** The true shift Delta (shared, do not modify). */
  public DMatrixRMaj delta() {
    return delta;
  }

  /** Sxx = X^T X / N (shared, do not modify). */
  public DMatrixRMaj sxx() {
    return sxx;
  }

  /** G = -grad L(W0) = X^T (Y - X W0) / N (shared, do not modify). */
  public DMatrixRMaj g() {
    return g;
  }
}
