package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** {@link DeterministicShuffle} and {@link MicroBatchPlan}: pure functions of (size, seed, epoch). */
class MicroBatchPlanTest {

    @Test
    void permutationIsPinnedForSeed42() {
        // Pinned so that a change in the shuffle (or in SplittableRandom) cannot reorder data silently.
        assertArrayEquals(new int[] {3, 4, 7, 0, 8, 5, 9, 2, 6, 1}, DeterministicShuffle.permutation(10, 42, 0));
        assertArrayEquals(new int[] {9, 6, 3, 0, 1, 5, 2, 8, 7, 4}, DeterministicShuffle.permutation(10, 42, 1));
    }

    @Test
    void permutationIsAPermutationAndDependsOnSeedAndEpoch() {
        int[] p = DeterministicShuffle.permutation(1000, 123, 5);
        assertArrayEquals(p, DeterministicShuffle.permutation(1000, 123, 5));
        int[] sorted = p.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < sorted.length; i++) {
            assertEquals(i, sorted[i]);
        }
        assertFalse(Arrays.equals(p, DeterministicShuffle.permutation(1000, 124, 5)));
        assertFalse(Arrays.equals(p, DeterministicShuffle.permutation(1000, 123, 6)));
    }

    @Test
    void microBatchesCoverEachIndexExactlyOncePerEpoch() {
        MicroBatchPlan plan = new MicroBatchPlan(103, 8, 99);
        assertEquals(13, plan.microBatchesPerEpoch());
        for (int epoch = 0; epoch < 3; epoch++) {
            int[] seen = new int[103];
            for (int i = 0; i < plan.microBatchesPerEpoch(); i++) {
                int[] batch = plan.microBatch(epoch, i);
                assertEquals(i < 12 ? 8 : 7, batch.length);
                for (int idx : batch) {
                    seen[idx]++;
                }
            }
            for (int count : seen) {
                assertEquals(1, count);
            }
        }
    }

    @Test
    void anyWorkerMaterialisesTheSameMicroBatchInAnyOrder() {
        MicroBatchPlan a = new MicroBatchPlan(50, 4, 7);
        MicroBatchPlan b = new MicroBatchPlan(50, 4, 7);
        int[] late = b.microBatch(3, 12); // b visits epoch 3 first, a goes through epoch 0 first
        a.microBatch(0, 0);
        assertArrayEquals(late, a.microBatch(3, 12));
        assertArrayEquals(Arrays.copyOfRange(a.permutation(2), 8, 12), a.microBatch(2, 2));
        assertArrayEquals(a.microBatch(1, 0), a.microBatch(13)); // 13 per epoch: global 13 = epoch 1, index 0
    }

    @Test
    void outOfRangeMicroBatchIsRejected() {
        MicroBatchPlan plan = new MicroBatchPlan(10, 3, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> plan.microBatch(0, 4));
        assertThrows(IllegalArgumentException.class, () -> plan.microBatch(-1, 0));
    }
}
