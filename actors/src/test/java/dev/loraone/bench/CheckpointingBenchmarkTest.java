package dev.loraone.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The step FLOP count of the checkpointing benchmark, against a hand count for SmolLM2-135M. */
class CheckpointingBenchmarkTest {

  @Test
  void stepFlopsOfSmolLm2AtSeq512AreThreeForwardsByHand() {
    // per layer: q, o 576x576; k, v 576x192; gate, up, down 576x1536 -> 3,538,944 weights; 30 layers
    double layers = 30 * 3_538_944.0;
    double head = 49152.0 * 576; // tied, still a matmul
    double lora = 30 * 16.0 * (2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536)); // r = 16 on all seven
    double attention = 4.0 * 512 * 512 * 576 * 30; // q k^T and p v over the full 512 x 512
    double want = 3 * (2 * 512 * (layers + head + lora) + attention);
    assertEquals(want, CheckpointingBenchmark.stepFlops(RandomLlama.Shape.smolLm2135m().config(), 1, 512, 16), 1);
    assertEquals(482.485, want / 1e9, 1e-3);
  }

  @Test
  void executedFlopsOfSmolLm2LeaveOutTheFrozenWeightGradients() {
    double layers = 30 * 3_538_944.0;
    double head = 49152.0 * 576;
    double lora = 30 * 16.0 * (2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536));
    // query blocks of 128 positions, each against the keys up to its last: 128 x (128 + 256 + 384 + 512) pairs
    double attention = 4.0 * 128 * (128 + 256 + 384 + 512) * 576 * 30;
    double forward = 2 * 512 * (layers + head + lora) + attention;
    double backward = 2 * 512 * (layers + head) + 2 * (2 * 512 * lora) + 2 * attention; // dX; dX and dW of A, B
    double want = forward + backward;
    assertEquals(want, CheckpointingBenchmark.executedFlops(RandomLlama.Shape.smolLm2135m().config(), 1, 512, 16), 1);
    assertEquals(324.39, want / 1e9, 0.01); // a libtorch profile of one step: 323.8 GFLOP of aten::mm + aten::bmm
  }
}
