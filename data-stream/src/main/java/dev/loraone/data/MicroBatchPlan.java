package dev.loraone.data;

import java.util.Arrays;

/**
 * Addresses micro-batches: which example indices micro-batch {@code index} of epoch {@code epoch}
 * holds, computed from (dataset size, micro-batch size, seed) alone.
 *
 * <p>Role: the coordinator hands out micro-batch numbers, never data; any worker can materialise
 * any micro-batch, and a reassigned micro-batch holds the same examples on its new worker. Epoch
 * {@code e}'s order is {@link DeterministicShuffle#permutation}{@code (size, seed, e)}; micro-batch
 * {@code i} is its slice {@code [i*m, min((i+1)*m, size))}. So each epoch covers every example
 * exactly once, and the last micro-batch is short when {@code m} does not divide {@code size}.
 * A global index {@code g} counts micro-batches across epochs: epoch {@code g / perEpoch}, index
 * {@code g % perEpoch}.
 *
 * <p>Thread-safe; the last epoch's permutation is cached.
 */
public final class MicroBatchPlan {

    private record Cached(long epoch, int[] order) {}

    private final int datasetSize;
    private final int microBatchSize;
    private final long seed;
    private volatile Cached cached;

    /**
     * @param datasetSize number of examples, >= 1
     * @param microBatchSize examples per micro-batch, >= 1
     * @param seed the shuffle seed
     */
    public MicroBatchPlan(int datasetSize, int microBatchSize, long seed) {
        if (datasetSize < 1 || microBatchSize < 1) {
            throw new IllegalArgumentException("datasetSize and microBatchSize must be >= 1, got "
                    + datasetSize + " and " + microBatchSize);
        }
        this.datasetSize = datasetSize;
        this.microBatchSize = microBatchSize;
        this.seed = seed;
    }

    public int datasetSize() {
        return datasetSize;
    }

    public int microBatchSize() {
        return microBatchSize;
    }

    public long seed() {
        return seed;
    }

    /** Micro-batches per epoch: {@code ceil(datasetSize / microBatchSize)}. */
    public int microBatchesPerEpoch() {
        return (datasetSize + microBatchSize - 1) / microBatchSize;
    }

    /** The example order of an epoch (a fresh copy). */
    public int[] permutation(long epoch) {
        return order(epoch).clone();
    }

    /**
     * The example indices of one micro-batch, in permutation order.
     *
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..microBatchesPerEpoch-1}
     */
    public int[] microBatch(long epoch, int index) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        }
        if (index < 0 || index >= microBatchesPerEpoch()) {
            throw new IndexOutOfBoundsException("micro-batch " + index + " of epoch " + epoch
                    + " (expected 0.." + (microBatchesPerEpoch() - 1) + ")");
        }
        int from = index * microBatchSize;
        return Arrays.copyOfRange(order(epoch), from, Math.min(from + microBatchSize, datasetSize));
    }

    /** The example indices of the micro-batch with a global (cross-epoch) index. */
    public int[] microBatch(long globalIndex) {
        if (globalIndex < 0) {
            throw new IllegalArgumentException("global micro-batch index must be >= 0, got " + globalIndex);
        }
        int perEpoch = microBatchesPerEpoch();
        return microBatch(globalIndex / perEpoch, (int) (globalIndex % perEpoch));
    }

    private int[] order(long epoch) {
        Cached c = cached;
        if (c == null || c.epoch != epoch) {
            c = new Cached(epoch, DeterministicShuffle.permutation(datasetSize, seed, epoch));
            cached = c;
        }
        return c.order;
    }
}
