package dev.loraone.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A whole dataset file read into memory, with the report of what was skipped.
 *
 * <p>Role: what {@link ExampleReader#readAll} returns, so that a caller using
 * {@link OnBadRecord#SKIP} cannot miss how many records were dropped: {@link #summary()} says it in
 * one line, with the first messages.
 *
 * @param file the file name as given to the reader
 * @param examples the examples in file order
 * @param skippedCount how many records were skipped (0 under {@link OnBadRecord#FAIL})
 * @param skippedMessages the messages of the first {@link #MAX_REPORTED} skipped records
 */
public record ReadResult(String file, List<Example> examples, long skippedCount, List<String> skippedMessages) {

    /** How many skip messages are kept; the count is always exact. */
    public static final int MAX_REPORTED = 100;

    public ReadResult {
        Objects.requireNonNull(file, "file");
        examples = List.copyOf(examples);
        skippedMessages = List.copyOf(skippedMessages);
    }

    /**
     * The examples cast to one kind.
     *
     * @throws IllegalStateException naming the first example of another kind
     */
    public <T extends Example> List<T> examplesOf(Class<T> kind) {
        List<T> out = new ArrayList<>(examples.size());
        for (Example e : examples) {
            if (!kind.isInstance(e)) {
        throw new IllegalStateException(
            e.source()
                + ": expected a "
                + kind.getSimpleName()
                + " example, got "
                + e.getClass().getSimpleName());
            }
            out.add(kind.cast(e));
        }
        return out;
    }

    /** One line, e.g. {@code train.jsonl: 998 examples, 2 skipped (first: train.jsonl:17: ...)}. */
    public String summary() {
        String line = file + ": " + examples.size() + " examples, " + skippedCount + " skipped";
        return skippedMessages.isEmpty() ? line : line + " (first: " + skippedMessages.get(0) + ")";
    }
}
