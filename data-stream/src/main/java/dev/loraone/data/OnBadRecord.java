package dev.loraone.data;

/**
 * What a reader does with a record it cannot parse.
 *
 * <p>Role: a dataset with one broken line out of a million should be usable on purpose, never by
 * accident. {@link #FAIL} is the default; {@link #SKIP} counts and reports every skipped record
 * (see {@link ReadResult#skippedCount()}). Errors that make the whole file unreadable (a header
 * without the needed columns, an I/O error) are thrown under either policy.
 */
public enum OnBadRecord {
    /** Throw the first {@link BadRecordException}. */
    FAIL,
    /** Skip the record, count it, keep its message for the report, and go on. */
    SKIP
}
