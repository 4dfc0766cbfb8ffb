package dev.loraone.service;

import dev.loraone.data.DataFormat;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.ReadOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * An upload read as the jobs will read it, line by line, before it is kept: a JSONL, CSV or TSV
 * dataset through {@link ExampleReader} (every record, with the readers' messages: {@code
 * name:line: what was found, what was expected}), a text file (task.corpus, task.labels) as strict
 * UTF-8 lines. Fails with {@link IllegalArgumentException} naming the line; answers the record count.
 *
 * <pre>
 *   ?format=     jsonl | csv | tsv | text
 *   else ?name=  its extension: .jsonl .ndjson | .csv | .tsv | .txt
 *   else Content-Type  application/jsonl, application/x-ndjson | text/csv | text/tab-separated-values | text/plain
 * </pre>
 */
final class DatasetCheck {
  private DatasetCheck() {}

  /** The upload's format from its query parameters and Content-Type; empty when none says. */
  static Optional<String> format(Optional<String> format, Optional<String> name, String contentType) {
    if (format.isPresent()) {
      String f = format.get().toLowerCase(Locale.ROOT);
      if (!DatasetStore.FORMATS.containsKey(f)) {
        throw new IllegalArgumentException("format=" + format.get() + ": expected jsonl, csv, tsv or text");
      }
      return Optional.of(f);
    }
    if (name.isPresent()) {
      String n = name.get().toLowerCase(Locale.ROOT);
      if (n.endsWith(".txt")) return Optional.of("text");
      try {
        return Optional.of(DataFormat.fromFileName(n).name().toLowerCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        // the Content-Type may still say
      }
    }
    String t = contentType.toLowerCase(Locale.ROOT);
    if (t.startsWith("application/jsonl") || t.startsWith("application/x-ndjson")
        || t.startsWith("application/x-jsonlines")) {
      return Optional.of("jsonl");
    }
    if (t.startsWith("text/csv")) return Optional.of("csv");
    if (t.startsWith("text/tab-separated-values")) return Optional.of("tsv");
    if (t.startsWith("text/plain")) return Optional.of("text");
    return Optional.empty();
  }

  /** The records of {@code file} in {@code format}; messages call it {@code name}. */
  static long rows(Path file, String format, String name) throws IOException {
    long rows = 0;
    if (format.equals("text")) {
      var utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT);
      try (BufferedReader in = new BufferedReader(new InputStreamReader(Files.newInputStream(file), utf8))) {
        for (String line; (line = readLine(in, name, rows)) != null; ) {
          rows++;
        }
      }
    } else {
      InputStream in = Files.newInputStream(file);
      try (ExampleReader r = ExampleReader.open(in, name, DataFormat.valueOf(format.toUpperCase(Locale.ROOT)),
          ReadOptions.DEFAULT)) {
        while (r.hasNext()) {
          r.next();
          rows++;
        }
      } catch (UncheckedIOException e) {
        throw new IllegalArgumentException(e.getMessage() + ": " + e.getCause().getMessage());
      }
    }
    if (rows == 0) throw new IllegalArgumentException(name + ": no records (an empty dataset trains nothing)");
    return rows;
  }

  private static String readLine(BufferedReader in, String name, long before) throws IOException {
    try {
      return in.readLine();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(name + ":" + (before + 1) + ": not UTF-8 text (expected UTF-8 lines)");
    }
  }
}
