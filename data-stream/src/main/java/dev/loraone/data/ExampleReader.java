package dev.loraone.data;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * Reads {@link Example}s from a JSONL, CSV or TSV file, one at a time, applying the
 * {@link OnBadRecord} policy.
 *
 * <p>Role: the one entry point for user datasets. It is a plain {@link Iterator} so that a Pekko
 * Streams source can wrap it ({@code Source.fromIterator}) and {@link #readAll} can fill a list.
 * Every error names the file and line (see {@link BadRecordException}); I/O failures surface as
 * {@link UncheckedIOException} from {@link #hasNext()}.
 *
 * <p>A file holds one kind of example: the first record fixes it, and a later record of the other
 * kind is a bad record. Under {@link OnBadRecord#SKIP} bad records are counted
 * ({@link #skippedCount()}) and the first {@link ReadResult#MAX_REPORTED} messages kept.
 * Not thread-safe; close it (try-with-resources) to close the stream.
 */
public final class ExampleReader implements Iterator<Example>, Closeable {

    private final Utf8LineReader lines;
    private final ReadOptions options;
    private final JsonlRecordParser jsonl;
    private final DelimitedRecordParser delimited;
    private final List<String> skippedMessages = new ArrayList<>();
    private long skippedCount;
    private Class<? extends Example> kind;
    private String first;
    private Example lookahead;
    private boolean done;

    private ExampleReader(Utf8LineReader lines, DataFormat format, ReadOptions options) throws IOException {
        this.lines = lines;
        this.options = options;
        if (format == DataFormat.JSONL) {
            this.jsonl = new JsonlRecordParser(options.fieldNames());
            this.delimited = null;
        } else {
            this.jsonl = null;
            this.delimited = new DelimitedRecordParser(lines, format, options.fieldNames());
            delimited.readHeader();
        }
    }

    /** Opens a file, choosing the format from its extension ({@link DataFormat#fromFileName}). */
    public static ExampleReader open(Path file, ReadOptions options) throws IOException {
        return open(file, DataFormat.fromFileName(file.getFileName().toString()), options);
    }

    /** Opens a file in the given format; messages name it as {@code file.toString()}. */
    public static ExampleReader open(Path file, DataFormat format, ReadOptions options) throws IOException {
        return open(Files.newInputStream(file), file.toString(), format, options);
    }

    /**
     * Reads from a stream, which the reader closes.
     *
     * @param fileName the name used in messages
     * @throws BadRecordException at once if a CSV/TSV header lacks the needed columns
     */
    public static ExampleReader open(InputStream in, String fileName, DataFormat format, ReadOptions options)
            throws IOException {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(options, "options");
        Utf8LineReader lines = new Utf8LineReader(in, fileName);
        try {
            return new ExampleReader(lines, format, options);
        } catch (IOException | RuntimeException e) {
            lines.close();
            throw e;
        }
    }

    /** Reads a whole file; see {@link #open(Path, ReadOptions)}. */
    public static ReadResult readAll(Path file, ReadOptions options) throws IOException {
        try (ExampleReader reader = open(file, options)) {
            return reader.drain();
        }
    }

    /** Reads a whole stream and closes it; see {@link #open(InputStream, String, DataFormat, ReadOptions)}. */
    public static ReadResult readAll(InputStream in, String fileName, DataFormat format, ReadOptions options)
            throws IOException {
        try (ExampleReader reader = open(in, fileName, format, options)) {
            return reader.drain();
        }
    }

    private ReadResult drain() {
        List<Example> out = new ArrayList<>();
        while (hasNext()) {
            out.add(next());
        }
        return new ReadResult(lines.fileName(), out, skippedCount, skippedMessages);
    }

    @Override
    public boolean hasNext() {
        while (lookahead == null && !done) {
            try {
                Example e = delimited != null ? delimited.next() : nextJsonl();
                if (e == null) {
                    done = true;
                } else {
                    checkKind(e);
                    lookahead = e;
                }
            } catch (BadRecordException e) {
                if (!e.recoverable() || options.onBadRecord() == OnBadRecord.FAIL) {
                    throw e;
                }
                skippedCount++;
                if (skippedMessages.size() < ReadResult.MAX_REPORTED) {
                    skippedMessages.add(e.getMessage());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(lines.fileName() + ": read failed after line " + lines.lineNumber(), e);
            }
        }
        return lookahead != null;
    }

    @Override
    public Example next() {
        if (!hasNext()) {
            throw new NoSuchElementException(lines.fileName() + ": no more examples");
        }
        Example e = lookahead;
        lookahead = null;
        return e;
    }

    private Example nextJsonl() throws IOException {
        String line;
        do {
            line = lines.next();
            if (line == null) {
                return null;
            }
        } while (line.isBlank());
        return jsonl.parse(line, lines.location());
    }

    private void checkKind(Example e) {
        if (kind == null) {
            kind = e.getClass();
        } else if (kind != e.getClass()) {
            FieldNames names = options.fieldNames();
            throw BadRecordException.record(
                    e.source(), "record is " + names.shapeOf(e) + " but earlier records are " + first
                            + " (expected one kind of record per file)");
        }
        if (first == null) {
            first = options.fieldNames().shapeOf(e);
        }
    }

    /** How many bad records were skipped so far. */
    public long skippedCount() {
        return skippedCount;
    }

    /** The messages of the first {@link ReadResult#MAX_REPORTED} skipped records. */
    public List<String> skippedMessages() {
        return List.copyOf(skippedMessages);
    }

    @Override
    public void close() throws IOException {
        lines.close();
    }
}
