package dev.loraone.data;

import java.util.Objects;

/**
 * How {@link ExampleReader} treats a dataset file.
 *
 * @param onBadRecord fail on, or skip and count, records that cannot be parsed
 * @param fieldNames the JSON keys / CSV columns to read
 */
public record ReadOptions(OnBadRecord onBadRecord, FieldNames fieldNames) {

    /** Fail on the first bad record; default field names. */
    public static final ReadOptions DEFAULT = new ReadOptions(OnBadRecord.FAIL, FieldNames.DEFAULT);

    public ReadOptions {
        Objects.requireNonNull(onBadRecord, "onBadRecord");
        Objects.requireNonNull(fieldNames, "fieldNames");
    }

    /** A copy with the given bad-record policy. */
    public ReadOptions with(OnBadRecord policy) {
        return new ReadOptions(policy, fieldNames);
    }

    /** A copy with the given field names. */
    public ReadOptions with(FieldNames names) {
        return new ReadOptions(onBadRecord, names);
    }
}
