package dev.loraone.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads CSV (RFC 4180 quoting) or TSV (no quoting) records with a header row into
 * {@link Example}s.
 *
 * <p>Role: the delimited half of {@link ExampleReader}. The header (the first non-empty line)
 * must name the text and label columns, the prompt and completion columns of {@link FieldNames},
 * or {@code query} and {@code positive} (and optionally {@code negative}: an empty cell is no hard
 * negative); other columns are allowed and ignored. Every record must have as many fields
 * as the header. Empty lines between records are ignored.
 *
 * <p>CSV quoting: a field that starts with {@code "} runs to the next {@code "} not followed by
 * another {@code "}; inside it, {@code ""} is one quote and commas and line breaks are data (a
 * record may span lines; its location is the line where it starts). After a closing quote only the
 * delimiter or the end of the line may follow. A quote inside an unquoted field is kept as is.
 */
final class DelimitedRecordParser {

    private final Utf8LineReader lines;
    private final char delimiter;
    private final boolean quoting;
    private final FieldNames names;
    private List<String> header;
    private boolean classification;
    private boolean pair;
    private int firstColumn;
    private int secondColumn;
    private int negativeColumn = -1;
    private SourceLocation recordStart;

    DelimitedRecordParser(Utf8LineReader lines, DataFormat format, FieldNames names) {
        if (format == DataFormat.JSONL) {
            throw new IllegalArgumentException("not a delimited format: " + format);
        }
        this.lines = lines;
        this.delimiter = format == DataFormat.CSV ? ',' : '\t';
        this.quoting = format == DataFormat.CSV;
        this.names = names;
    }

    /**
     * Reads the header row and resolves the columns.
     *
     * @throws BadRecordException (never recoverable) if the header is missing or lacks columns
     */
    void readHeader() throws IOException {
        List<String> fields;
        try {
            fields = nextFields();
        } catch (BadRecordException e) {
            throw BadRecordException.fatal(e.location(), "unreadable header row: " + e.detail());
        }
        SourceLocation at = lines.location();
        if (fields == null) {
            throw BadRecordException.fatal(at, "empty file: no header row " + names.expected());
        }
        header = new ArrayList<>(fields.size());
        Map<String, Integer> index = new HashMap<>();
        for (String raw : fields) {
            String name = raw.strip();
            if (index.putIfAbsent(name, header.size()) != null) {
                throw BadRecordException.fatal(at, "duplicate column \"" + name + "\" in header " + headerText());
            }
            header.add(name);
        }
        boolean hasText = index.containsKey(names.text());
        boolean hasPrompt = index.containsKey(names.prompt());
        boolean hasQuery = index.containsKey(FieldNames.QUERY);
        if ((hasText ? 1 : 0) + (hasPrompt ? 1 : 0) + (hasQuery ? 1 : 0) > 1) {
            throw BadRecordException.fatal(
                    at, "columns of two kinds (\"" + names.text() + "\", \"" + names.prompt() + "\", \""
                            + FieldNames.QUERY + "\": at most one) in header " + headerText() + " " + names.expected());
        }
        if (!hasText && !hasPrompt && !hasQuery) {
            String wanted = index.containsKey(names.completion())
                    ? "\"" + names.prompt() + "\""
                    : index.containsKey(names.label())
                            ? "\"" + names.text() + "\""
                            : index.containsKey(FieldNames.POSITIVE)
                                    ? "\"" + FieldNames.QUERY + "\""
                                    : "\"" + names.text() + "\" or \"" + names.prompt() + "\"";
            throw BadRecordException.fatal(
                    at, "missing column " + wanted + " in header " + headerText() + " " + names.expected());
        }
        classification = hasText;
        pair = hasQuery;
        String first = classification ? names.text() : pair ? FieldNames.QUERY : names.prompt();
        String second = classification ? names.label() : pair ? FieldNames.POSITIVE : names.completion();
        if (!index.containsKey(second)) {
            throw BadRecordException.fatal(
                    at, "missing column \"" + second + "\" in header " + headerText() + " " + names.expected());
        }
        firstColumn = index.get(first);
        secondColumn = index.get(second);
        if (pair) {
            negativeColumn = index.getOrDefault(FieldNames.NEGATIVE, -1);
        }
    }

    /** The next example, or {@code null} at the end of the file. */
    Example next() throws IOException {
        List<String> fields = nextFields();
        if (fields == null) {
            return null;
        }
        SourceLocation at = recordStart;
        if (fields.size() != header.size()) {
            throw BadRecordException.record(
                    at, "expected " + header.size() + " columns as in the header " + headerText()
                            + ", got " + fields.size());
        }
        String first = fields.get(firstColumn);
        String second = fields.get(secondColumn);
        if (classification) {
            if (second.isBlank()) {
                throw BadRecordException.record(
                        at, "empty value in column \"" + names.label() + "\" (expected a class label)");
            }
            return new Example.Classification(first, second, at);
        }
        if (pair) {
            for (String column : new String[] {FieldNames.QUERY, FieldNames.POSITIVE}) {
                if ((column.equals(FieldNames.QUERY) ? first : second).isBlank()) {
                    throw BadRecordException.record(
                            at, "empty value in column \"" + column + "\" (expected the " + column + " text)");
                }
            }
            String negative = negativeColumn < 0 ? null : fields.get(negativeColumn);
            return new Example.Pair(first, second, negative == null || negative.isBlank() ? null : negative, at);
        }
        return new Example.Generation(first, second, at);
    }

    /** Splits the next non-empty record into fields, or returns {@code null} at the end. */
    private List<String> nextFields() throws IOException {
        String line;
        do {
            line = lines.next();
            if (line == null) {
                return null;
            }
        } while (line.isEmpty());
        recordStart = lines.location();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        if (!quoting) {
            int from = 0;
            for (int i = 0; i <= line.length(); i++) {
                if (i == line.length() || line.charAt(i) == delimiter) {
                    fields.add(line.substring(from, i));
                    from = i + 1;
                }
            }
            return fields;
        }
        int i = 0;
        while (true) {
            // At the start of a field.
            if (i < line.length() && line.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i == line.length()) {
                        String more = lines.next();
                        if (more == null) {
                            throw BadRecordException.record(
                                    recordStart, "unterminated quoted field in column " + column(fields.size())
                                            + " (reached the end of the file; expected a closing '\"')");
                        }
                        field.append('\n');
                        line = more;
                        i = 0;
                        continue;
                    }
                    char c = line.charAt(i++);
                    if (c != '"') {
                        field.append(c);
                    } else if (i < line.length() && line.charAt(i) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        break;
                    }
                }
                if (i < line.length() && line.charAt(i) != delimiter) {
          throw BadRecordException.record(
              lines.location(),
              "unexpected character '"
                  + line.charAt(i)
                  + "' after the closing quote of column "
                  + column(fields.size())
                  + " (expected '"
                  + delimiter
                  + "' or the end of the line)");
                }
            } else {
                while (i < line.length() && line.charAt(i) != delimiter) {
                    field.append(line.charAt(i++));
                }
            }
            fields.add(field.toString());
            field.setLength(0);
            if (i == line.length()) {
                return fields;
            }
            i++; // the delimiter
        }
    }

    private String column(int index) {
        String name = header != null && index < header.size() ? "\"" + header.get(index) + "\" " : "";
        return name + "(field " + (index + 1) + ")";
    }

    private String headerText() {
        return header.toString();
    }
}
