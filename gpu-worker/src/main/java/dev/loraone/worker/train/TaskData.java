package dev.loraone.worker.train;

import dev.loraone.data.Example;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.LabelVocabulary;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadOptions;
import dev.loraone.data.ReadResult;
import dev.loraone.data.Split;
import dev.loraone.data.SplitRule;
import dev.loraone.data.WordNetSupersense;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A classification task resolved to train and evaluation examples and a label vocabulary.
 *
 * <p>{@code wordnet-supersense} (26 noun classes) and {@code wordnet-supersense-all} (45 classes)
 * use the built-in WordNet 3.1 task with its stable split, sampled to at most {@code maxPerClass}
 * examples per class and split (WordNet's classes range from 42 to 11,605 synsets). Any other
 * name is a JSONL/CSV/TSV file of {@code {text,label}}; without an eval file, a stable 10% of it
 * (by the same SplitMix64 rule over the record index) is held out for evaluation.
 */
public record TaskData(String name, List<Example.Classification> train, List<Example.Classification> eval,
    LabelVocabulary labels, String summary) {

  public static final String WORDNET = "wordnet-supersense";
  public static final String WORDNET_ALL = "wordnet-supersense-all";

  public static TaskData load(
      String task, Path evalFile, int maxPerClass, long seed, OnBadRecord onBad)
      throws IOException {
    if (task.equals(WORDNET) || task.equals(WORDNET_ALL)) {
      if (evalFile != null) { // it was silently ignored: the job evaluated on WordNet's validation split instead
        throw new IllegalArgumentException(
            "--eval-file (job key eval-file) "
                + evalFile
                + ": only read with a task FILE; the built-in task "
                + task
                + " evaluates on its own validation split (unset eval-file, or give task = your training FILE)");
      }
      WordNetSupersense wn = WordNetSupersense.load(task.equals(WORDNET) ? WordNetSupersense.Inventory.NOUNS
          : WordNetSupersense.Inventory.ALL);
      List<Example.Classification> train = wn.balancedExamples(Split.TRAIN, maxPerClass, seed);
      List<Example.Classification> eval = wn.balancedExamples(Split.VALIDATION, Math.max(1, maxPerClass / 4), seed);
      return new TaskData(task, train, eval, wn.classes(), String.format(
          "WordNet 3.1 supersense: %d synsets, %d classes; sampled <= %d per class: %d train, %d validation",
          wn.size(), wn.classes().size(), maxPerClass, train.size(), eval.size()));
    }
    Path file = Path.of(task);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--task " + task + ": neither a built-in task (" + WORDNET + ", " + WORDNET_ALL
          + ") nor a readable file");
    }
    ReadOptions options = ReadOptions.DEFAULT.with(onBad);
    ReadResult read = ExampleReader.readAll(file, options);
    List<Example.Classification> all = classification(read, file);
    List<Example.Classification> train = new ArrayList<>();
    List<Example.Classification> eval = new ArrayList<>();
    if (evalFile != null) {
      train.addAll(all);
      eval.addAll(classification(ExampleReader.readAll(evalFile, options), evalFile));
    } else {
      for (int i = 0; i < all.size(); i++) {
        (Long.remainderUnsigned(SplitRule.mix64(i), 10) == 0 ? eval : train).add(all.get(i));
      }
    }
    if (train.isEmpty()) throw new IllegalArgumentException(file + ": no training examples");
    if (eval.isEmpty())
      throw new IllegalArgumentException(
          (evalFile != null ? evalFile : file) + ": no evaluation examples");
    List<Example.Classification> both = new ArrayList<>(train);
    both.addAll(eval);
    LabelVocabulary labels = LabelVocabulary.fromExamples(both);
    return new TaskData(file.getFileName().toString(), List.copyOf(train), List.copyOf(eval), labels, String.format(
        "%s: %d train, %d eval, %d classes%s", file, train.size(), eval.size(), labels.size(),
        read.skippedCount() > 0 ? ", " + read.skippedCount() + " bad records skipped" : ""));
  }

  private static List<Example.Classification> classification(ReadResult read, Path file) {
    List<Example.Classification> out = read.examplesOf(Example.Classification.class);
    if (out.size() != read.examples().size()) {
      throw new IllegalArgumentException(
          file + ": expected {text,label} records for classification, found {prompt,completion}");
    }
    return out;
  }

  /**
   * The {@code j}-th of {@code n} evaluation examples: evenly spaced over the whole eval list, whose
   * built-in order groups examples by class (a prefix of WordNet's would cover only a few classes).
   */
  public int evalExample(int j, int n) {
    return n >= eval.size() ? j : (int) ((long) j * eval.size() / n);
  }
}
