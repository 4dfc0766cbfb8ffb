package dev.loraone.data.stream;

import dev.loraone.data.LabelVocabulary;
import dev.loraone.data.TokenBatch;
import java.util.Arrays;
import java.util.Objects;

/**
 * A classification micro-batch: padded tokens and one class id per row.
 *
 * <p>Role: what {@link MicroBatchEncoder#classification} produces for the encoder models. Row
 * {@code r} of {@code tokens} is the text of the example whose class id is {@code labels[r]}
 * ({@link LabelVocabulary} ids). The array belongs to the batch and must not be modified.
 * Equality is by content.
 *
 * @param tokens the padded token batch
 * @param labels class ids, one per row
 */
public record LabelledTokenBatch(TokenBatch tokens, int[] labels) {

    public LabelledTokenBatch {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(labels, "labels");
        if (labels.length != tokens.batchSize()) {
            throw new IllegalArgumentException(labels.length + " labels for " + tokens.batchSize() + " rows");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelledTokenBatch b && tokens.equals(b.tokens) && Arrays.equals(labels, b.labels);
    }

    @Override
    public int hashCode() {
        return 31 * tokens.hashCode() + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "LabelledTokenBatch[" + tokens.batchSize() + " x " + tokens.sequenceLength() + ", labels "
                + Arrays.toString(labels) + "]";
    }
}
