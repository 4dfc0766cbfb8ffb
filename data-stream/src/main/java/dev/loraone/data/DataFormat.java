package dev.loraone.data;

import java.util.Locale;

/**
 * The dataset file formats {@link ExampleReader} understands.
 *
 * <ul>
 *   <li>{@link #JSONL}: one JSON object per line ({@code .jsonl}, {@code .ndjson}); blank lines are
 *       ignored.
 *   <li>{@link #CSV}: comma-separated with a header row and RFC 4180 quoting: a field in double
 *       quotes may hold commas, line breaks and doubled quotes ({@code ""}).
 *   <li>{@link #TSV}: tab-separated with a header row and <em>no</em> quoting (the IANA
 *       {@code text/tab-separated-values} rule: fields hold no tabs or line breaks), so a quote
 *       character is an ordinary character.
 * </ul>
 *
 * All are read as strict UTF-8; a leading byte-order mark is dropped.
 */
public enum DataFormat {
    JSONL,
    CSV,
    TSV;

    /**
     * Picks the format from a file name's extension.
     *
     * @throws IllegalArgumentException if the extension is none of {@code .jsonl .ndjson .csv .tsv}
     */
    public static DataFormat fromFileName(String fileName) {
        String lower = fileName.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) {
            return JSONL;
        }
        if (lower.endsWith(".csv")) {
            return CSV;
        }
        if (lower.endsWith(".tsv")) {
            return TSV;
        }
        throw new IllegalArgumentException(
                fileName + ": unknown dataset format (expected a .jsonl, .ndjson, .csv or .tsv file)");
    }
}
