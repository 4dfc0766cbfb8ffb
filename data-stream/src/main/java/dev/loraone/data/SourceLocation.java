package dev.loraone.data;

import java.util.Objects;

/**
 * Where a record came from: a file name and a 1-based line number.
 *
 * <p>Role: every {@link Example} keeps one so that errors found long after reading (a label
 * missing from the vocabulary, a prompt longer than the model allows) still point at the line a
 * user can open. {@link #toString()} gives the compiler-style {@code file:line} prefix used in
 * every error message of this package.
 *
 * @param file the file name as the caller gave it (a path, a resource name, or a stream's label)
 * @param line the 1-based line on which the record starts (a quoted CSV field may continue on
 *     later lines)
 */
public record SourceLocation(String file, long line) {

    public SourceLocation {
        Objects.requireNonNull(file, "file");
        if (line < 1) {
            throw new IllegalArgumentException("line must be >= 1, got " + line);
        }
    }

    @Override
    public String toString() {
        return file + ":" + line;
    }
}
