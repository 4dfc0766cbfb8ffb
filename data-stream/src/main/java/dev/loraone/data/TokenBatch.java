package dev.loraone.data;

import java.util.Arrays;

/**
 * A padded batch of token sequences for an encoder model (BERT family), as flat int64 arrays.
 *
 * <p>Role: the hand-off from tokenisation to the model. Arrays are row-major with shape {@code
 * [batchSize, sequenceLength]}, ready for {@code NDManager.create(long[], new Shape(b, s))} without
 * copying; they belong to the batch and must not be modified. Padding is on the right: {@code
 * attentionMask} is 1 on real tokens and 0 on padding. Equality is by content.
 *
 * @param batchSize rows
 * @param sequenceLength columns: the longest row, capped at the tokenizer's max length
 * @param inputIds token ids, padding with the tokenizer's pad id
 * @param attentionMask 1 for tokens, 0 for padding
 * @param tokenTypeIds segment ids (0 for single texts), 0 on padding
 */
public record TokenBatch(
    int batchSize, int sequenceLength, long[] inputIds, long[] attentionMask, long[] tokenTypeIds) {

    public TokenBatch {
        checkShape(batchSize, sequenceLength, inputIds, attentionMask, tokenTypeIds);
    }

    /** One row of {@link #inputIds()} (a copy). */
    public long[] inputIds(int row) {
        return row(inputIds, sequenceLength, row);
    }

    /** One row of {@link #attentionMask()} (a copy). */
    public long[] attentionMask(int row) {
        return row(attentionMask, sequenceLength, row);
    }

    /** One row of {@link #tokenTypeIds()} (a copy). */
    public long[] tokenTypeIds(int row) {
        return row(tokenTypeIds, sequenceLength, row);
    }

    /** The number of real (unpadded) tokens of a row. */
    public int length(int row) {
        int n = 0;
        for (long m : attentionMask(row)) {
            n += (int) m;
        }
        return n;
    }

    static void checkShape(int batchSize, int sequenceLength, long[]... arrays) {
        if (batchSize < 0 || sequenceLength < 0) {
            throw new IllegalArgumentException("negative shape [" + batchSize + ", " + sequenceLength + "]");
        }
        long expected = (long) batchSize * sequenceLength;
        for (long[] a : arrays) {
            if (a.length != expected) {
                throw new IllegalArgumentException("array of length " + a.length + " for shape ["
                        + batchSize + ", " + sequenceLength + "] (expected " + expected + ")");
            }
        }
    }

    static long[] row(long[] flat, int sequenceLength, int row) {
        return Arrays.copyOfRange(flat, row * sequenceLength, (row + 1) * sequenceLength);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenBatch t && batchSize == t.batchSize && sequenceLength == t.sequenceLength
                && Arrays.equals(inputIds, t.inputIds) && Arrays.equals(attentionMask, t.attentionMask)
                && Arrays.equals(tokenTypeIds, t.tokenTypeIds);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(inputIds) + Arrays.hashCode(attentionMask)) + Arrays.hashCode(tokenTypeIds);
    }

    @Override
    public String toString() {
        return "TokenBatch[" + batchSize + " x " + sequenceLength + "]";
    }
}
