package dev.loraone.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@code task.labels} file: what each class of a classification task means, in words.
 *
 * <p>Role: a label-initialised classification head embeds one text per class; a class called
 * {@code pos} or {@code noun.Tops} says less than "a favourable review" or "unique beginner for nouns".
 * The file maps labels to those texts:
 *
 * <pre>
 *   # comment; blank lines are skipped
 *   positive&lt;TAB&gt;a favourable review
 *   negative&lt;TAB&gt;an unfavourable review
 * </pre>
 *
 * Strict UTF-8, one {@code label<TAB>description} per line, both sides trimmed. A label must be one of
 * the task's classes, named once, with a non-blank description; each violation is a
 * {@link BadRecordException} naming {@code file:line}, whatever the data's bad-record policy (a wrong
 * description file is a wrong job, not a noisy record). A class the file does not name is simply
 * absent from the result: the caller falls back to its label text, so a file may describe only the
 * classes whose names say little.
 */
public final class LabelDescriptions {

    private LabelDescriptions() {}

    /** The descriptions {@code file} gives, by label, in file order. */
    public static Map<String, String> read(Path file, LabelVocabulary classes) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("'job.task.labels' = " + file + ": no such file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString(), classes);
        }
    }

    /** The descriptions a stream gives; {@code fileName} names it in errors. */
    public static Map<String, String> read(InputStream in, String fileName, LabelVocabulary classes)
            throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, Long> lineOf = new LinkedHashMap<>();
        try (Utf8LineReader lines = new Utf8LineReader(in, fileName)) {
            for (String line = lines.next(); line != null; line = lines.next()) {
                if (line.isBlank() || line.stripLeading().startsWith("#")) {
                    continue;
                }
                SourceLocation at = lines.location();
                int tab = line.indexOf('\t');
                if (tab < 0) {
                    throw BadRecordException.fatal(at, "expected 'label<TAB>description', found no tab in \""
                            + abbreviate(line) + "\"");
                }
                String label = line.substring(0, tab).strip();
                String description = line.substring(tab + 1).strip();
                if (!classes.contains(label)) {
                    throw BadRecordException.fatal(at, "unknown class \"" + label + "\": the task's " + classes.size()
                            + " classes are " + shown(classes));
                }
                if (lineOf.containsKey(label)) {
                    throw BadRecordException.fatal(at, "class \"" + label + "\" is described again (first on line "
                            + lineOf.get(label) + ")");
                }
                if (description.isEmpty()) {
                    throw BadRecordException.fatal(at, "class \"" + label + "\" has a blank description");
                }
                out.put(label, description);
                lineOf.put(label, at.line());
            }
        }
        return Collections.unmodifiableMap(out);
    }

    private static String shown(LabelVocabulary classes) {
        return classes.size() <= 12 ? classes.labels().toString()
                : classes.labels().subList(0, 12) + "... (" + (classes.size() - 12) + " more)";
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
