package dev.loraone.data.stream;

import dev.loraone.data.BadRecordException;
import dev.loraone.data.DataFormat;
import dev.loraone.data.Example;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadOptions;
import dev.loraone.data.ReadResult;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.japi.function.Creator;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Supervision;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * A Pekko Streams {@link Source} of the {@link Example}s of one dataset file.
 *
 * <p>Role: the streaming entry point for user datasets. It wraps {@link ExampleReader} with
 * {@link Source#unfoldResource}, so the file is opened when the stream starts, read one record per
 * pull on Pekko's blocking-I/O dispatcher, and closed when the stream completes, fails or is
 * cancelled. The {@link OnBadRecord} policy of the {@link ReadOptions} applies:
 *
 * <ul>
 *   <li>{@link OnBadRecord#FAIL}: the stream fails with the {@link BadRecordException}, whose
 *       message starts with the record's {@code file:line};
 *   <li>{@link OnBadRecord#SKIP}: bad records are skipped and counted; the materialised
 *       {@link ReadReport} gives the count and the first messages.
 * </ul>
 *
 * <p>The materialised {@code CompletionStage<ReadReport>} completes when the stream stops (also on
 * cancellation, then with {@link ReadReport#reachedEnd()} false) and fails with the stream's own
 * error. Stream supervision is pinned to "stop": a bad record is the reader's business, and a
 * "restart" decider would silently reread the file from its first line. Each materialisation reads
 * the file anew.
 */
public final class ExampleSource {

    private ExampleSource() {}

    /** The examples of a file whose format follows its extension ({@link DataFormat#fromFileName}). */
    public static Source<Example, CompletionStage<ReadReport>> fromFile(Path file, ReadOptions options) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(options, "options");
        return fromReader(file.toString(), () -> ExampleReader.open(file, options));
    }

    /** The examples of a file in the given format. */
    public static Source<Example, CompletionStage<ReadReport>> fromFile(Path file, DataFormat format, ReadOptions options) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(options, "options");
        return fromReader(file.toString(), () -> ExampleReader.open(file, format, options));
    }

    /**
     * The examples of readers opened by {@code open}, once per materialisation; the stream closes
     * each reader it opened.
     *
     * @param fileName the name the {@link ReadReport} carries (the reader's messages use its own)
     */
    public static Source<Example, CompletionStage<ReadReport>> fromReader(String fileName, Creator<ExampleReader> open) {
        Objects.requireNonNull(fileName, "fileName");
        Objects.requireNonNull(open, "open");
        Source<Example, CompletionStage<CompletionStage<ReadReport>>> perRun = Source.fromMaterializer((mat, attributes) -> {
            Cursor cursor = new Cursor(fileName);
            return Source.<Example, ExampleReader>unfoldResource(open, cursor::read, ExampleReader::close)
                    .watchTermination((notUsed, done) -> cursor.reportWhen(done));
        });
        return perRun
                .mapMaterializedValue(ExampleSource::flatten)
                .addAttributes(ActorAttributes.withSupervisionStrategy(Supervision.getStoppingDecider()));
    }

    /**
     * Reads a whole file through the stream into a {@link ReadResult}, as
     * {@link ExampleReader#readAll} does without one.
     */
    public static CompletionStage<ReadResult> readAll(Path file, ReadOptions options, ClassicActorSystemProvider system) {
        return collect(fromFile(file, options), system);
    }

    /** Runs a source of examples into a {@link ReadResult}; fails as the stream fails. */
    public static CompletionStage<ReadResult> collect(
            Source<Example, CompletionStage<ReadReport>> source, ClassicActorSystemProvider system) {
        var both = source.toMat(Sink.<Example>seq(), Keep.both()).run(system);
        return both.first().thenCombine(both.second(),
                (report, examples) -> new ReadResult(report.file(), examples, report.skippedCount(), report.skippedMessages()));
    }

    private static <T> CompletionStage<T> flatten(CompletionStage<CompletionStage<T>> nested) {
        CompletableFuture<T> out = new CompletableFuture<>();
        nested.whenComplete((inner, error) -> {
            if (error != null) {
                out.completeExceptionally(unwrap(error));
            } else {
                inner.whenComplete((value, innerError) -> {
                    if (innerError != null) {
                        out.completeExceptionally(unwrap(innerError));
                    } else {
                        out.complete(value);
                    }
                });
            }
        });
        return out;
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    /**
     * One run's progress: written by the reading stage, read by the termination callback on
     * another thread, hence volatile snapshots of the reader's counters.
     */
    private static final class Cursor {
        private final String file;
        private volatile long examples;
        private volatile long skippedCount;
        private volatile List<String> skippedMessages = List.of();
        private volatile boolean reachedEnd;

        Cursor(String file) {
            this.file = file;
        }

        Optional<Example> read(ExampleReader reader) {
            try {
                if (reader.hasNext()) {
                    examples++;
                    return Optional.of(reader.next());
                }
                reachedEnd = true;
                return Optional.empty();
            } finally {
                if (reader.skippedCount() != skippedCount) {
                    skippedMessages = reader.skippedMessages();
                    skippedCount = reader.skippedCount();
                }
            }
        }

        CompletionStage<ReadReport> reportWhen(CompletionStage<?> done) {
            CompletableFuture<ReadReport> report = new CompletableFuture<>();
            done.whenComplete((ignored, error) -> {
                if (error != null) {
                    report.completeExceptionally(unwrap(error));
                } else {
                    report.complete(new ReadReport(file, examples, skippedCount, skippedMessages, reachedEnd));
                }
            });
            return report;
        }
    }
}
