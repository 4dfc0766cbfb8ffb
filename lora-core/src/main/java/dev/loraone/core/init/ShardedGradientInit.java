package dev.loraone.core.init;

import dev.loraone.core.Seeds;
import dev.loraone.core.linalg.BufferMatrix;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.linalg.Svd;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.svd.MatrixOperator;
import dev.loraone.core.svd.RandomizedSvdRounds;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * One adapted module's init from the gradient as it exists in a sharded job: canonical init shards
 * {@code G_s} (each the in-order sum of its micro-batch gradients), never added up on one machine
 * in randomized mode (DESIGN.md section 4).
 *
 * <pre>
 *   randomized (lora-one only):  rounds of RandomizedSvdRounds over sum_s G_s X, summed in shard order,
 *                                seed Seeds.derive(seed, MODULE_SVD + i), q = qFactor*r (clipped), niter;
 *                                A0, B0 = LoraOneInit.fromGradientSvd (the init ignores the 1/iters scale)
 *   exact:                       G = (sum_s G_s, in shard order) / iters, then the method's own rule
 * </pre>
 * The single-process fine-tune calls this directly; the coordinator drives the same
 * {@link #rounds} over the network, so both produce the same bits.
 */
public final class ShardedGradientInit {
  private ShardedGradientInit() {}

  /** How the gradient enters the init. */
  public record Settings(
      String method,
      LoraScaling scaling,
      InitParams params,
      boolean randomized,
      int qFactor,
      int niter,
      long seed) {
    public Settings {
      InitMethod m = InitMethod.of(method);
      if (randomized && m.needsGradient() && !m.randomizedSvd()) {
        throw new IllegalArgumentException(
            "init.mode = randomized supports lora-one only; use init.mode = exact for " + method);
      }
      if (qFactor < 1) throw new IllegalArgumentException("init.q-factor=" + qFactor + " must be >= 1");
      if (niter < 0) throw new IllegalArgumentException("init.niter=" + niter + " must be >= 0");
    }
  }

  public static boolean needsGradient(String method) {
    return InitMethod.of(method).needsGradient();
  }

  /** The SVD rounds of module {@code index} of shape {@code [out,in]}: what a coordinator drives. */
  public static RandomizedSvdRounds rounds(int out, int in, int index, Settings s) {
    int r = s.scaling().r();
    int q = Math.min(s.qFactor() * r, Math.min(out, in));
    return RandomizedSvdRounds.start(
        out, in, r, Math.max(q, r), s.niter(), Seeds.derive(s.seed(), Seeds.MODULE_SVD + index));
  }

  /** {@link #init(String, int, LoraShape, List, int, DMatrixRMaj, Settings)} of shard sums on the heap. */
  public static InitResult init(
      String layer,
      int index,
      LoraShape shape,
      List<DMatrixRMaj> shardSums,
      int iters,
      DMatrixRMaj w0,
      Settings s) {
    return initOf(layer, index, shape, shardSums == null ? null : shardSums.stream().map(BufferMatrix::of).toList(),
        iters, w0, s);
  }

  /**
   * The init of module {@code index}.
   *
   * @param shardSums the module's shard gradients {@code [out,in]} in shard order, on or off the heap (null
   *     if the method needs none); the randomized SVD reads them only through products
   * @param iters the number of init micro-batches they hold (G is their mean)
   * @param w0 the base weight, for PiSSA and LoRA-GA (null otherwise)
   */
  public static InitResult initOf(
      String layer,
      int index,
      LoraShape shape,
      List<BufferMatrix> shardSums,
      int iters,
      DMatrixRMaj w0,
      Settings s) {
    if (needsGradient(s.method()) && (shardSums == null || shardSums.isEmpty())) {
      throw new IllegalArgumentException(s.method() + " needs the one-step gradient of layer '" + layer + "'");
    }
    long initSeed = Seeds.derive(s.seed(), Seeds.MODULE_INIT + index);
    if (s.randomized() && InitMethod.of(s.method()).randomizedSvd()) {
      for (int i = 0; i < shardSums.size(); i++) {
        shardSums.get(i).requireFinite("shard " + i + " gradient of layer '" + layer + "'");
      }
      MatrixOperator g = MatrixOperator.sum(shardSums.stream().map(BufferMatrix::operator).toList());
      Svd svd = rounds(shape.out(), shape.in(), index, s).runAgainst(g).result();
      return LoraOneInit.fromGradientSvd(layer, svd, s.params().gammaOr(LoraOneInit.DEFAULT_STABLE_GAMMA));
    }
    DMatrixRMaj grad = null;
    if (shardSums != null && !shardSums.isEmpty()) {
      grad = Matrices.sumInOrder(shardSums.stream().map(BufferMatrix::toDense).toList());
      CommonOps_DDRM.scale(1.0 / iters, grad);
    }
    return LoraInitializers.forName(s.method())
        .init(new InitContext(layer, shape, w0, grad, s.scaling(), initSeed, s.params()));
  }
}
