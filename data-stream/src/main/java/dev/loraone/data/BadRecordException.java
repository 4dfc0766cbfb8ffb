package dev.loraone.data;

import java.util.Objects;

/**
 * A dataset record, or a whole dataset file, that cannot be read.
 *
 * <p>Role: the one error type of the readers. Its message always starts with the
 * {@code file:line} of the offending record and then says what was found and what was expected,
 * e.g. {@code train.jsonl:17: missing key "label" (expected {text,label} or {prompt,completion})}.
 *
 * <p>A <em>recoverable</em> error concerns one record; under {@link OnBadRecord#SKIP} it is counted
 * and reading goes on. A non-recoverable one (a CSV header without the needed columns) makes the
 * file unusable and is thrown under every policy.
 */
public final class BadRecordException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient SourceLocation location;
    private final String detail;
    private final boolean recoverable;

    BadRecordException(SourceLocation location, String detail, boolean recoverable) {
        super(location + ": " + detail);
        this.location = Objects.requireNonNull(location, "location");
        this.detail = Objects.requireNonNull(detail, "detail");
        this.recoverable = recoverable;
    }

    static BadRecordException record(SourceLocation location, String detail) {
        return new BadRecordException(location, detail, true);
    }

    static BadRecordException fatal(SourceLocation location, String detail) {
        return new BadRecordException(location, detail, false);
    }

    /** The file and line of the offending record. */
    public SourceLocation location() {
        return location;
    }

    /** The message without its {@code file:line: } prefix. */
    public String detail() {
        return detail;
    }

    /** Whether {@link OnBadRecord#SKIP} may skip this record and go on. */
    public boolean recoverable() {
        return recoverable;
    }
}
