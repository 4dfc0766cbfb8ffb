package dev.loraone.data.stream;

import dev.loraone.data.MicroBatchPlan;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tokenised micro-batch with its address.
 *
 * <p>Role: the element of {@link MicroBatchSource}'s streams and the unit of work a worker
 * computes gradients for. The address is redundant on purpose: {@code globalIndex} is what the
 * coordinator hands out, {@code (epoch, index)} is {@link MicroBatchPlan}'s split of it, and
 * {@code exampleIndices} are the dataset rows it holds (in row order of {@code batch}), so a worker's
 * result can be checked against its assignment. The index array must not be modified. Equality is
 * by content.
 *
 * @param globalIndex the cross-epoch index: {@code epoch * microBatchesPerEpoch + index}
 * @param epoch the epoch
 * @param index the micro-batch within the epoch
 * @param exampleIndices the dataset indices of its rows, in permutation order
 * @param batch the encoded rows ({@link LabelledTokenBatch} or a {@code CausalLmBatch})
 * @param <B> the encoded batch type
 */
public record MicroBatch<B>(long globalIndex, long epoch, int index, int[] exampleIndices, B batch) {

    public MicroBatch {
        Objects.requireNonNull(exampleIndices, "exampleIndices");
        Objects.requireNonNull(batch, "batch");
    }

    /** The number of examples. */
    public int size() {
        return exampleIndices.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MicroBatch<?> m && globalIndex == m.globalIndex && epoch == m.epoch && index == m.index
                && Arrays.equals(exampleIndices, m.exampleIndices) && batch.equals(m.batch);
    }

    @Override
    public int hashCode() {
        return Objects.hash(globalIndex, epoch, index, Arrays.hashCode(exampleIndices), batch);
    }

    @Override
    public String toString() {
        return "MicroBatch[" + globalIndex + " = epoch " + epoch + " #" + index + ", examples "
                + Arrays.toString(exampleIndices) + ", " + batch + "]";
    }
}
