package dev.loraone.core.svd;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import java.util.OptionalInt;
import org.ejml.data.DMatrixRMaj;

/**
 * How an init computes the top-k singular triplets of a matrix {@code M:[m,n]}: an exact dense
 * SVD, or the randomized one of {@link RandomizedSvd}. Result shapes: {@code U:[m,k] S:[k] V:[n,k]}.
 */
public sealed interface SvdMethod {

  /** Top-k triplets of {@code m}, singular values descending. */
  Svd topK(DMatrixRMaj m, int k);

  static SvdMethod exact() {
    return new Exact();
  }

  /** Randomized with the defaults {@code q = min(4k, min(m,n))}, {@code niter = 2}. */
  static SvdMethod randomized(long seed) {
    return new Randomized(OptionalInt.empty(), RandomizedSvdRounds.DEFAULT_NITER, seed);
  }

  static SvdMethod randomized(int q, int niter, long seed) {
    return new Randomized(OptionalInt.of(q), niter, seed);
  }

  /** Dense SVD (EJML), then truncation. */
  record Exact() implements SvdMethod {
    @Override
    public Svd topK(DMatrixRMaj m, int k) {
      Matrices.requireFinite(m, "matrix to decompose");
      return Svd.exact(m, k);
    }
  }

  /**
   * Halko randomized SVD.
   *
   * @param q oversampled size; empty means {@code min(4k, min(m,n))}
   * @param niter power iterations, &gt;= 0
   */
  record Randomized(OptionalInt q, int niter, long seed) implements SvdMethod {
    public Randomized {
      if (niter < 0) throw new IllegalArgumentException("power iterations niter=" + niter + " must be >= 0");
      if (q.isPresent() && q.getAsInt() < 1)
        throw new IllegalArgumentException("oversampled size q=" + q.getAsInt() + " must be >= 1");
    }

    @Override
    public Svd topK(DMatrixRMaj m, int k) {
      int qq = q.orElse(RandomizedSvdRounds.defaultQ(k, m.numRows, m.numCols));
      return RandomizedSvd.compute(m, k, qq, niter, seed);
    }
  }
}
