package dev.loraone.data;

import java.util.SplittableRandom;

/**
 * Seeded Fisher-Yates shuffles: the same seed and epoch give the same permutation everywhere.
 *
 * <p>Role: the data order of an epoch must be a pure function of (dataset size, seed, epoch), so
 * that any worker can materialise any micro-batch and a restarted job resumes the same order. The
 * permutation of epoch {@code e} is the Fisher-Yates (Durstenfeld) shuffle of {@code 0..n-1} driven
 * by {@code new SplittableRandom(seed ^ e)}: for {@code i = n-1 .. 1}, swap {@code a[i]} with
 * {@code a[random.nextInt(i + 1)]}. {@link SplittableRandom} (SplitMix64) is pure integer
 * arithmetic with no platform dependence; a test pins one permutation, so a JDK that changed its
 * sequence would be caught rather than silently reorder the data.
 */
public final class DeterministicShuffle {

    private DeterministicShuffle() {}

    /** The permutation of {@code 0..size-1} for a seed and an epoch. */
    public static int[] permutation(int size, long seed, long epoch) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        int[] order = new int[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        shuffle(order, new SplittableRandom(seed ^ epoch));
        return order;
    }

    /** Shuffles in place with the given generator (Fisher-Yates, from the end). */
    public static void shuffle(int[] values, SplittableRandom random) {
        for (int i = values.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = values[i];
            values[i] = values[j];
            values[j] = t;
        }
    }
}
