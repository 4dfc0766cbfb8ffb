package dev.loraone.data;

import java.util.Arrays;

/**
 * A padded batch of prompt+completion sequences for a causal LM, as flat int64 arrays.
 *
 * <p>Role: the hand-off from {@link CausalLmEncoder} to a decoder model. Arrays are row-major,
 * shape {@code [batchSize, sequenceLength]}, padded on the right. {@code labels} follow the
 * Hugging Face convention: aligned with {@code inputIds} (the model shifts them, so the logits at
 * position {@code t} are scored against {@code labels[t+1]}), and
 * {@link CausalLmEncoder#IGNORE_INDEX} ({@code -100}) on prompt tokens, BOS and padding, so only
 * the completion (and EOS) carries loss. Arrays must not be modified. Equality is by content.
 *
 * @param batchSize rows
 * @param sequenceLength columns: the longest row, capped at the max length
 * @param inputIds token ids, padding with the tokenizer's pad id
 * @param attentionMask 1 for tokens, 0 for padding
 * @param labels target ids, or -100 where no loss is taken
 */
public record CausalLmBatch(int batchSize, int sequenceLength, long[] inputIds, long[] attentionMask, long[] labels) {

    public CausalLmBatch {
        TokenBatch.checkShape(batchSize, sequenceLength, inputIds, attentionMask, labels);
    }

    /** One row of {@link #inputIds()} (a copy). */
    public long[] inputIds(int row) {
        return TokenBatch.row(inputIds, sequenceLength, row);
    }

    /** One row of {@link #attentionMask()} (a copy). */
    public long[] attentionMask(int row) {
        return TokenBatch.row(attentionMask, sequenceLength, row);
    }

    /** One row of {@link #labels()} (a copy). */
    public long[] labels(int row) {
        return TokenBatch.row(labels, sequenceLength, row);
    }

    /** How many positions of the batch carry loss (labels other than -100). */
    public int labelledTokens() {
        int n = 0;
        for (long l : labels) {
            if (l != CausalLmEncoder.IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CausalLmBatch t && batchSize == t.batchSize && sequenceLength == t.sequenceLength
                && Arrays.equals(inputIds, t.inputIds) && Arrays.equals(attentionMask, t.attentionMask)
                && Arrays.equals(labels, t.labels);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(inputIds) + Arrays.hashCode(attentionMask)) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "CausalLmBatch[" + batchSize + " x " + sequenceLength + ", " + labelledTokens() + " labelled]";
    }
}
