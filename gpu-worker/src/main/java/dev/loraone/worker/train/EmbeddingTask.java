package dev.loraone.worker.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.Example;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadOptions;
import dev.loraone.data.ReadResult;
import dev.loraone.data.Split;
import dev.loraone.data.SplitRule;
import dev.loraone.data.WordNetGlossRetrieval;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An embedding task resolved to training and evaluation pairs and the extra documents evaluation
 * retrieves from: the retrieval counterpart of {@link TaskData}.
 *
 * <p>{@value #WORDNET_GLOSS} is the built-in {@link WordNetGlossRetrieval} (train and validation
 * splits). Any other name is a JSONL/CSV/TSV file of {@code {query, positive[, negative]}}; without
 * an eval file a stable 10% of it (the SplitMix64 rule of {@link TaskData}) is held out. The corpus
 * file ({@code task.corpus}) holds one document per non-blank line, or, for {@code .jsonl}, one
 * JSON string or {@code {"text": ...}} object per line.
 */
public record EmbeddingTask(String name, List<Example.Pair> train, List<Example.Pair> eval, List<String> corpus,
    String summary) {

  public static final String WORDNET_GLOSS = "wordnet-gloss-retrieval";
  private static final ObjectMapper JSON = new ObjectMapper();

  public static EmbeddingTask load(String task, Path evalFile, Path corpusFile, OnBadRecord onBad) throws IOException {
    List<String> corpus = corpusFile == null ? List.of() : readCorpus(corpusFile);
    String extra = corpus.isEmpty() ? "" : ", " + corpus.size() + " extra documents from " + corpusFile;
    if (task.equals(WORDNET_GLOSS)) {
      if (evalFile != null) {
        throw new IllegalArgumentException("'job.task.eval' = " + evalFile + ": only read with a task FILE; the"
            + " built-in task " + task + " evaluates on its own validation split");
      }
      WordNetGlossRetrieval wn = WordNetGlossRetrieval.load();
      return new EmbeddingTask(task, wn.examples(Split.TRAIN), wn.examples(Split.VALIDATION), corpus,
          wn.summary() + extra);
    }
    Path file = Path.of(task);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("'job.task.train' = " + task + ": neither the built-in task " + WORDNET_GLOSS
          + " nor a readable JSONL/CSV/TSV file of {query, positive[, negative]}");
    }
    ReadOptions options = ReadOptions.DEFAULT.with(onBad);
    ReadResult read = ExampleReader.readAll(file, options);
    List<Example.Pair> all = pairs(read, file);
    List<Example.Pair> train = new ArrayList<>();
    List<Example.Pair> eval = new ArrayList<>();
    if (evalFile != null) {
      train.addAll(all);
      eval.addAll(pairs(ExampleReader.readAll(evalFile, options), evalFile));
    } else {
      for (int i = 0; i < all.size(); i++) {
        (Long.remainderUnsigned(SplitRule.mix64(i), 10) == 0 ? eval : train).add(all.get(i));
      }
    }
    if (train.isEmpty()) throw new IllegalArgumentException(file + ": no training pairs");
    if (eval.isEmpty()) {
      throw new IllegalArgumentException((evalFile != null ? evalFile : file) + ": no evaluation pairs");
    }
    String skipped = read.skippedCount() > 0 ? ", " + read.skippedCount() + " bad records skipped" : "";
    return new EmbeddingTask(file.getFileName().toString(), List.copyOf(train), List.copyOf(eval), corpus,
        String.format("%s: %d train, %d eval query/positive pairs%s%s", file, train.size(), eval.size(), skipped,
            extra));
  }

  private static List<Example.Pair> pairs(ReadResult read, Path file) {
    if (!read.examples().stream().allMatch(e -> e instanceof Example.Pair)) {
      String found = read.examples().get(0).getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
      throw new IllegalArgumentException(file + ": expected {query,positive[,negative]} records for an embedding task,"
          + " found " + found + " records");
    }
    return read.examplesOf(Example.Pair.class);
  }

  /** The corpus file's documents in file order; a malformed JSONL line fails naming {@code file:line}. */
  static List<String> readCorpus(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "'job.task.corpus' = " + file + ": no such file (expected one document per line)");
    }
    boolean jsonl = file.getFileName().toString().endsWith(".jsonl");
    List<String> docs = new ArrayList<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) continue;
      if (!jsonl) {
        docs.add(line);
        continue;
      }
      JsonNode n;
      try {
        n = JSON.readTree(line);
      } catch (IOException e) {
        throw new IllegalArgumentException(
            file + ":" + (i + 1) + ": invalid JSON (expected a string or {\"text\": ...})");
      }
      JsonNode text = n.isTextual() ? n : n.path("text");
      if (!text.isTextual() || text.asText().isBlank()) {
        throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected a JSON string or {\"text\": ...} with"
            + " non-blank text");
      }
      docs.add(text.asText());
    }
    return List.copyOf(docs);
  }

  /**
   * The {@code j}-th of {@code n} evaluation pairs: evenly spaced over the eval list, whose built-in
   * order groups pairs by part of speech (a prefix of WordNet's would hold only nouns).
   */
  public int evalExample(int j, int n) {
    return n >= eval.size() ? j : (int) ((long) j * eval.size() / n);
  }
}
