package dev.loraone.core.svd;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * One-shot randomized SVD: drives {@link RandomizedSvdRounds} to completion against a matrix in
 * this process. Because it runs the very same rounds, it matches a distributed run with the same
 * seed and the same shard order bit for bit.
 *
 * <p>Shape legend: {@code G:[m,n]}, result {@code U:[m,r] S:[r] V:[n,r]}, {@code G ~= U diag(S) V^T}.
 */
public final class RandomizedSvd {
  private RandomizedSvd() {}

  /** Top-r triplets of {@code g} with oversampled size {@code q} and {@code niter} power iterations. */
  public static Svd compute(DMatrixRMaj g, int r, int q, int niter, long seed) {
    Matrices.requireFinite(g, "matrix G");
    return run(MatrixOperator.of(g), r, q, niter, seed).result();
  }

  /** {@link #compute} with the defaults {@code q = min(4r, min(m,n))}, {@code niter = 2}. */
  public static Svd compute(DMatrixRMaj g, int r, long seed) {
    return compute(
        g,
        r,
        RandomizedSvdRounds.defaultQ(r, g.numRows, g.numCols),
        RandomizedSvdRounds.DEFAULT_NITER,
        seed);
  }

  /** Top-r triplets of {@code sum(summands)}, with per-summand products added in list order. */
  public static Svd compute(List<DMatrixRMaj> summands, int r, int q, int niter, long seed) {
    for (int i = 0; i < summands.size(); i++) Matrices.requireFinite(summands.get(i), "summand " + i + " of G");
    return run(MatrixOperator.sumOf(summands), r, q, niter, seed).result();
  }

  /** The finished round state (result, range basis, round and upload counts) for {@code g}. */
  public static RandomizedSvdRounds run(MatrixOperator g, int r, int q, int niter, long seed) {
    return RandomizedSvdRounds.start(g.rows(), g.cols(), r, q, niter, seed).runAgainst(g);
  }
}
