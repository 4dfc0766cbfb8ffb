package dev.loraone.core.init;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.svd.MatrixOperator;
import dev.loraone.core.svd.RandomizedSvdRounds;
import dev.loraone.core.svd.SvdRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class ShardedGradientInitTest {
  private static final LoraShape SHAPE = new LoraShape(40, 30, 4);

  private static List<DMatrixRMaj> shards(long seed) {
    Random rng = new Random(seed);
    // a shared low-rank signal plus per-shard noise, like gradients of different micro-batches
    DMatrixRMaj u = Matrices.gaussian(40, 6, rng, 1);
    DMatrixRMaj v = Matrices.gaussian(6, 30, rng, 1);
    List<DMatrixRMaj> out = new ArrayList<>();
    for (int s = 0; s < 3; s++) {
      DMatrixRMaj g = Matrices.mult(u, v);
      DMatrixRMaj noise = Matrices.gaussian(40, 30, rng, 0.3);
      out.add(Matrices.plus(g, noise));
    }
    return out;
  }

  private static ShardedGradientInit.Settings settings(boolean randomized) {
    return new ShardedGradientInit.Settings(
        "lora-one", new LoraScaling(16, 4, true), InitParams.defaults(), randomized, 4, 2, 7);
  }

  @Test
  void randomizedInitEqualsACoordinatorDrivingTheRoundsOverShardProducts() {
    List<DMatrixRMaj> shards = shards(1);
    InitResult local = ShardedGradientInit.init("q", 3, SHAPE, shards, 6, null, settings(true));
    // what the coordinator does: each owner applies the request to its own shard; the sum runs in shard order
    RandomizedSvdRounds rounds = ShardedGradientInit.rounds(40, 30, 3, settings(true));
    while (!rounds.isDone()) {
      SvdRequest req = rounds.request();
      List<DMatrixRMaj> products = new ArrayList<>();
      for (DMatrixRMaj g : shards) products.add(req.applyTo(MatrixOperator.of(g)));
      rounds = rounds.accept(Matrices.sumInOrder(products));
    }
    InitResult remote = LoraOneInit.fromGradientSvd("q", rounds.result(), LoraOneInit.DEFAULT_STABLE_GAMMA);
    assertArrayEquals(local.a().data, remote.a().data, 0.0, "bit-identical A0");
    assertArrayEquals(local.b().data, remote.b().data, 0.0, "bit-identical B0");
  }

  @Test
  void randomizedInitIsCloseToTheExactInit() {
    List<DMatrixRMaj> shards = shards(2);
    InitResult exact = ShardedGradientInit.init("q", 0, SHAPE, shards, 6, null, settings(false));
    InitResult rand = ShardedGradientInit.init("q", 0, SHAPE, shards, 6, null, settings(true));
    double s = new LoraScaling(16, 4, true).factor();
    double err =
        dev.loraone.core.metrics.Subspaces.relativeError(
            Matrices.mult(rand.b(), rand.a()), Matrices.mult(exact.b(), exact.a()));
    assertTrue(err < 1e-3, "q = 4r, niter = 2 on a spectrum with a clear gap: relative error of B0 A0 " + err);
    assertEquals(
        s / LoraOneInit.DEFAULT_STABLE_GAMMA,
        s * Matrices.spectralNorm(Matrices.mult(exact.b(), exact.a())),
        1e-9,
        "spectral norm alpha/(sqrt(r) gamma) (reference 2.3)");
  }

  @Test
  void exactModeUsesTheMeanOfTheShardsInShardOrder() {
    List<DMatrixRMaj> shards = shards(3);
    InitResult viaShards = ShardedGradientInit.init("q", 0, SHAPE, shards, 6, null, settings(false));
    DMatrixRMaj mean = Matrices.scaled(1.0 / 6, Matrices.sumInOrder(shards));
    InitResult direct =
        new LoraOneInit()
            .init(
                new InitContext(
                    "q",
                    SHAPE,
                    null,
                    mean,
                    new LoraScaling(16, 4, true),
                    0,
                    InitParams.defaults()));
    assertArrayEquals(direct.a().data, viaShards.a().data, 0.0);
  }

  @Test
  void randomizedModeIsRefusedForLoraGa() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new ShardedGradientInit.Settings(
                    "lora-ga", new LoraScaling(16, 4, true), InitParams.defaults(), true, 4, 2, 0));
    assertTrue(e.getMessage().contains("init.mode = exact"), e.getMessage());
  }
}
