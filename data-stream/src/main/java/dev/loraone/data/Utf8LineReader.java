package dev.loraone.data;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Splits a byte stream into lines and decodes each as strict UTF-8, counting line numbers.
 *
 * <p>Role: the bottom of every text reader. {@code BufferedReader} would silently replace invalid
 * bytes with U+FFFD, so a corrupt file would train on garbage; here each line is decoded with a
 * {@link CodingErrorAction#REPORT} decoder and a bad line becomes a recoverable
 * {@link BadRecordException} naming the line and the byte offset. The line is consumed either way,
 * so a caller that skips bad records can go on reading.
 *
 * <p>Lines end at {@code \n}; a preceding {@code \r} is dropped. A UTF-8 byte-order mark at the
 * start of the file is dropped. Not thread-safe.
 */
final class Utf8LineReader implements Closeable {

    private static final int CHUNK = 1 << 16;

    private final InputStream in;
    private final String fileName;
    private final CharsetDecoder decoder =
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);

    private final byte[] chunk = new byte[CHUNK];
    private int chunkPos;
    private int chunkLen;
    private byte[] line = new byte[256];
    private int lineLen;
    private long lineNumber;
    private boolean eof;

    Utf8LineReader(InputStream in, String fileName) {
        this.in = Objects.requireNonNull(in, "in");
        this.fileName = Objects.requireNonNull(fileName, "fileName");
    }

    /** The file name used in messages. */
    String fileName() {
        return fileName;
    }

    /** The 1-based number of the line last returned (0 before the first). */
    long lineNumber() {
        return lineNumber;
    }

    /** The location of the line last returned. */
    SourceLocation location() {
        return new SourceLocation(fileName, Math.max(1, lineNumber));
    }

    /**
     * Returns the next line without its terminator, or {@code null} at the end of the input.
     *
     * @throws BadRecordException (recoverable) if the line is not valid UTF-8; the line is consumed
     * @throws IOException if the stream fails
     */
    String next() throws IOException {
        if (!readRawLine()) {
            return null;
        }
        lineNumber++;
        int start = 0;
        if (lineNumber == 1 && lineLen >= 3
                && line[0] == (byte) 0xEF && line[1] == (byte) 0xBB && line[2] == (byte) 0xBF) {
            start = 3;
        }
        int end = lineLen;
        if (end > start && line[end - 1] == '\r') {
            end--;
        }
        return decode(start, end);
    }

    private boolean readRawLine() throws IOException {
        lineLen = 0;
        if (eof) {
            return false;
        }
        boolean any = false;
        while (true) {
            if (chunkPos == chunkLen) {
                chunkLen = in.read(chunk, 0, CHUNK);
                chunkPos = 0;
                if (chunkLen <= 0) {
                    chunkLen = 0;
                    eof = true;
                    return any;
                }
            }
            any = true;
            int from = chunkPos;
            int nl = from;
            while (nl < chunkLen && chunk[nl] != '\n') {
                nl++;
            }
            append(from, nl - from);
            if (nl < chunkLen) {
                chunkPos = nl + 1;
                return true;
            }
            chunkPos = chunkLen;
        }
    }

    private void append(int from, int count) {
        if (lineLen + count > line.length) {
            line = Arrays.copyOf(line, Math.max(line.length * 2, lineLen + count));
        }
        System.arraycopy(chunk, from, line, lineLen, count);
        lineLen += count;
    }

    private String decode(int start, int end) {
        ByteBuffer bytes = ByteBuffer.wrap(line, start, end - start);
        CharBuffer chars = CharBuffer.allocate(end - start);
        decoder.reset();
        CoderResult result = decoder.decode(bytes, chars, true);
        if (!result.isError()) {
            result = decoder.flush(chars);
        }
        if (result.isError()) {
            int at = bytes.position();
            StringBuilder hex = new StringBuilder();
            for (int i = at; i < Math.min(end, at + Math.max(1, result.length())); i++) {
                hex.append(hex.length() == 0 ? "" : " ").append(String.format("0x%02X", line[i]));
            }
            throw BadRecordException.record(
                    new SourceLocation(fileName, lineNumber),
                    "invalid UTF-8: malformed byte sequence " + hex + " at byte " + (at - start + 1)
                            + " of the line (expected UTF-8 text)");
        }
        chars.flip();
        return chars.toString();
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
