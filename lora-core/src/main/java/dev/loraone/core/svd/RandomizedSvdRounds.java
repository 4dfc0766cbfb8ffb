package dev.loraone.core.svd;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/**
 * Randomized SVD (Halko, Martinsson, Tropp 2011, Alg. 4.4 randomized subspace iteration followed
 * by Alg. 5.1) written as an immutable state machine over rounds of summed products, so a
 * coordinator can run it against {@code G = sum_s G_s} without ever forming {@code G}.
 *
 * <p>Shape legend: {@code G:[m,n]  Omega:[n,q]  Q:[m,q]  Qz:[n,q]  Bsmall:[q,n]}, result
 * {@code U:[m,r] S:[r] V:[n,r]} with {@code G ~= U diag(S) V^T}.
 *
 * <pre>
 *   round 0           Right(Omega)  Y  = G Omega      Q  = orth(Y)
 *   per power iter    Left(Q)       Z  = G^T Q        Qz = orth(Z)
 *                     Right(Qz)     Y  = G Qz         Q  = orth(Y)
 *   last round        Left(Q)       Z  = G^T Q        Bsmall = Z^T = Q^T G
 *   finish            Bsmall = Ub S Vb^T (exact)      U = Q Ub[:, :r], V = Vb[:, :r]
 * </pre>
 *
 * That is {@code 2*niter + 2} rounds; each shard uploads {@code q*(m+n)*(niter+1)} floats in all.
 * {@code Omega} is Gaussian from {@code new Random(seed)}, filled row-major, so a seed fixes every
 * bit of the result given the summed products. Each {@link #accept} returns a new state; a round
 * that must be redone (a worker died) is simply asked for again with {@link #request()}.
 */
public final class RandomizedSvdRounds {
  /** Default oversampled size {@code q = 4r} (INIT-SVD-FINDINGS.md, recommended defaults). */
  public static final int DEFAULT_Q_FACTOR = 4;
  /** Default power iterations (INIT-SVD-FINDINGS.md: worst min-sim 0.9988 at r = 8). */
  public static final int DEFAULT_NITER = 2;

  private final int m, n, r, q, niter;
  private final long seed;
  private final int completed;
  private final SvdRequest pending;
  private final DMatrixRMaj rangeBasis;
  private final Svd result;

  private RandomizedSvdRounds(int m, int n, int r, int q, int niter, long seed, int completed,
      SvdRequest pending, DMatrixRMaj rangeBasis, Svd result) {
    this.m = m; this.n = n; this.r = r; this.q = q; this.niter = niter; this.seed = seed;
    this.completed = completed; this.pending = pending; this.rangeBasis = rangeBasis; this.result = result;
  }

  /**
   * The first state: round 0 asks for {@code G Omega}.
   *
   * @param m rows of G, &gt;= 1
   * @param n cols of G, &gt;= 1
   * @param r triplets wanted, in {@code [1, min(m,n)]}
   * @param q oversampled size, &gt;= r; clipped to {@code min(m,n)}
   * @param niter power iterations, &gt;= 0
   */
  public static RandomizedSvdRounds start(int m, int n, int r, int q, int niter, long seed) {
    if (m < 1 || n < 1) {
      throw new IllegalArgumentException(
          "matrix shape (rows m=" + m + ", cols n=" + n + ") must have m >= 1 and n >= 1");
    }
    int full = Math.min(m, n);
    if (r < 1 || r > full) {
      throw new IllegalArgumentException(
          "rank r="
              + r
              + " must be in [1, min(m, n)="
              + full
              + "] for a "
              + m
              + "x"
              + n
              + " matrix");
    }
    if (q < r) {
      throw new IllegalArgumentException("oversampled size q=" + q + " must be >= rank r=" + r);
    }
    if (niter < 0) {
      throw new IllegalArgumentException("power iterations niter=" + niter + " must be >= 0");
    }
    int qc = Math.min(q, full);
    DMatrixRMaj omega = Matrices.gaussian(n, qc, new Random(seed), 1.0);
    return new RandomizedSvdRounds(m, n, r, qc, niter, seed, 0, new SvdRequest.Right(0, omega, m), null, null);
  }

  /** {@link #start} with the defaults {@code q = min(4r, min(m,n))}, {@code niter = 2}. */
  public static RandomizedSvdRounds start(int m, int n, int r, long seed) {
    return start(m, n, r, defaultQ(r, m, n), DEFAULT_NITER, seed);
  }

  /** {@code min(4r, min(m,n))}, but never below r. */
  public static int defaultQ(int r, int m, int n) {
    return Math.max(r, Math.min(DEFAULT_Q_FACTOR * r, Math.min(m, n)));
  }

  /** {@code 2*niter + 2}: the range finder, two rounds per power iteration, and {@code Q^T G}. */
  public static int plannedRounds(int niter) {
    return 2 * niter + 2;
  }

  /** The round still to be answered. */
  public SvdRequest request() {
    if (pending == null) throw new IllegalStateException("all " + plannedRounds() + " rounds are done; read result()");
    return pending;
  }

  /**
   * Takes the product of the pending round, summed over shards in shard order, and returns the
   * next state. The product must be {@code [m,q]} for a Right round and {@code [n,q]} for Left.
   */
  public RandomizedSvdRounds accept(DMatrixRMaj summedProduct) {
    SvdRequest req = request();
    if (summedProduct.numRows != req.productRows() || summedProduct.numCols != q) {
      throw new IllegalArgumentException("summed product of round " + req.round() + " is " + summedProduct.numRows + "x"
          + summedProduct.numCols + " but must be " + req.productRows() + "x" + q);
    }
    Matrices.requireFinite(summedProduct, "summed product of round " + req.round());
    int done = completed + 1;
    if (req instanceof SvdRequest.Right) {
      DMatrixRMaj qm = Matrices.orthonormalColumns(summedProduct);
      return next(done, new SvdRequest.Left(done, qm, n), qm, null);
    }
    if (done < plannedRounds()) {
      DMatrixRMaj qz = Matrices.orthonormalColumns(summedProduct);
      return next(done, new SvdRequest.Right(done, qz, m), rangeBasis, null);
    }
    DMatrixRMaj small = Matrices.transpose(summedProduct); // Q^T G, [q,n]
    Svd s = Svd.exact(small, r);
    return next(done, null, rangeBasis, new Svd(Matrices.mult(rangeBasis, s.u()), s.s(), s.v()));
  }

  private RandomizedSvdRounds next(int done, SvdRequest req, DMatrixRMaj basis, Svd res) {
    return new RandomizedSvdRounds(m, n, r, q, niter, seed, done, req, basis, res);
  }

  /** Drives every remaining round against {@code g} and returns the finished state. */
  public RandomizedSvdRounds runAgainst(MatrixOperator g) {
    if (g.rows() != m || g.cols() != n) {
      throw new IllegalArgumentException(
          "operator is " + g.rows() + "x" + g.cols() + " but these rounds are for " + m + "x" + n);
    }
    RandomizedSvdRounds s = this;
    while (!s.isDone()) s = s.accept(s.request().applyTo(g));
    return s;
  }

  public boolean isDone() {
    return result != null;
  }

  /** The top-r triplets, {@code U:[m,r] S:[r] V:[n,r]}, once every round is done. */
  public Svd result() {
    if (result == null) {
      throw new IllegalStateException("only " + completed + " of " + plannedRounds() + " rounds are done");
    }
    return result;
  }

  /** The latest orthonormal range basis {@code Q:[m,q]} ({@code G ~= Q Q^T G}); null before round 0 is accepted. */
  public DMatrixRMaj rangeBasis() {
    return rangeBasis;
  }

  public int roundsCompleted() {
    return completed;
  }

  public int plannedRounds() {
    return plannedRounds(niter);
  }

  /** Floats each shard uploads in round {@code k}: {@code m*q} for Right rounds (even k), {@code n*q} for Left. */
  public long uploadFloatsPerShard(int round) {
    if (round < 0 || round >= plannedRounds()) {
      throw new IllegalArgumentException("round=" + round + " must be in [0, " + (plannedRounds() - 1) + "]");
    }
    return (long) (round % 2 == 0 ? m : n) * q;
  }

  /** {@code q*(m+n)*(niter+1)}: floats each shard uploads over all rounds. */
  public long totalUploadFloatsPerShard() {
    return (long) q * (m + n) * (niter + 1);
  }

  public int rows() { return m; }

  public int cols() { return n; }

  public int rank() { return r; }

  /** The oversampled size actually used, after clipping to {@code min(m,n)}. */
  public int q() { return q; }

  public int niter() { return niter; }

  public long seed() { return seed; }
}
