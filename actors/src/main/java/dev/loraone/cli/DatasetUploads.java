package dev.loraone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.EmbeddingTask;
import dev.loraone.worker.train.TaskData;
import java.io.PrintStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code loraone submit} does with the data files a job names on the submitting machine: each
 * one is uploaded ({@code POST /datasets}) and the job sent names it {@code dataset:<sha>} instead, so
 * the service and its workers need no access to this machine's disk. Built-in tasks, references
 * already in that form and paths that are no file here are sent as written (the service judges them).
 *
 * <pre>
 *   task.train, task.eval   .jsonl .ndjson | .csv | .tsv   uploaded in that format (read as examples)
 *   task.corpus, task.labels  any other text              uploaded as format text (UTF-8 lines)
 * </pre>
 */
final class DatasetUploads {
  private static final List<String> BUILT_IN = List.of(TaskData.WORDNET, TaskData.WORDNET_ALL,
      EmbeddingTask.WORDNET_GLOSS);

  private DatasetUploads() {}

  /** Uploads the local data files {@code spec} names; the values to set instead (empty: nothing to upload). */
  static Map<String, String> upload(JobSpec spec, ServiceClient client, PrintStream log) {
    Map<String, String> refs = new LinkedHashMap<>();
    for (String key : DatasetRefs.KEYS) {
      String v = spec.getString(key);
      if (v == null || BUILT_IN.contains(v) || DatasetRefs.isRef(v)) continue;
      Path file = Path.of(v);
      if (!Files.isRegularFile(file)) continue;
      String format = format(key, file);
      String name = file.getFileName().toString();
      JsonNode d = client.upload("/datasets?format=" + format + "&name=" + URLEncoder.encode(name,
          StandardCharsets.UTF_8), file);
      String ref = DatasetRefs.PREFIX + d.path("id").asText();
      log.println("uploaded " + file + " (" + d.path("rows").asLong() + " records, " + d.path("bytes").asLong()
          + " bytes) as " + ref);
      refs.put(key, ref);
    }
    return refs;
  }

  private static String format(String key, Path file) {
    String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
    boolean examples = key.equals("task.train") || key.equals("task.eval");
    if (!examples) {
      if (n.endsWith(".jsonl")) {
        throw new IllegalArgumentException("'job." + key + "' = " + file + ": a JSONL " + key.substring(5) + " file"
            + " cannot be uploaded (uploads of it are read as text lines); give one document per line (.txt)");
      }
      return "text";
    }
    if (n.endsWith(".jsonl") || n.endsWith(".ndjson")) return "jsonl";
    if (n.endsWith(".csv")) return "csv";
    if (n.endsWith(".tsv")) return "tsv";
    throw new IllegalArgumentException("'job." + key + "' = " + file + ": expected a .jsonl, .ndjson, .csv or .tsv"
        + " file to upload");
  }
}
