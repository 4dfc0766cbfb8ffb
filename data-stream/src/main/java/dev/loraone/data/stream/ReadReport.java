package dev.loraone.data.stream;

import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadResult;
import java.util.List;
import java.util.Objects;

/**
 * What one run of an {@link ExampleSource} read: its materialised value once the stream stops.
 *
 * <p>Role: the streaming counterpart of {@link ReadResult} without the examples themselves, so
 * that a caller using {@link OnBadRecord#SKIP} learns how many records were dropped even when the
 * examples went straight on to tokenisation.
 *
 * @param file the file name as given to the source
 * @param examples how many examples were read; the reading stage runs a bounded buffer ahead of its
 *     consumer, so after a cancellation this may exceed the number delivered
 * @param skippedCount how many bad records were skipped (0 under {@link OnBadRecord#FAIL})
 * @param skippedMessages the messages of the first {@link ReadResult#MAX_REPORTED} skipped records
 * @param reachedEnd whether the whole file was read; false when downstream cancelled early
 */
public record ReadReport(String file, long examples, long skippedCount, List<String> skippedMessages, boolean reachedEnd) {

    public ReadReport {
        Objects.requireNonNull(file, "file");
        skippedMessages = List.copyOf(skippedMessages);
    }

    /** One line, e.g. {@code train.jsonl: 998 examples, 2 skipped (first: train.jsonl:17: ...)}. */
    public String summary() {
        String line = file + ": " + examples + " examples, " + skippedCount + " skipped" + (reachedEnd ? "" : " (stopped early)");
        return skippedMessages.isEmpty() ? line : line + " (first: " + skippedMessages.get(0) + ")";
    }
}
