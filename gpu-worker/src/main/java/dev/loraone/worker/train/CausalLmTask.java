package dev.loraone.worker.train;

import dev.loraone.data.Example;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadOptions;
import dev.loraone.data.ReadResult;
import dev.loraone.data.SplitRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A causal-LM task: {@code {prompt, completion}} records of a JSONL/CSV/TSV file split into train
 * and evaluation examples, the generation counterpart of {@link TaskData}.
 *
 * <p>Without an eval file a stable 10% of the records is held out, by the same SplitMix64 rule
 * over the record index as {@link TaskData}.
 */
public record CausalLmTask(String name, List<Example.Generation> train, List<Example.Generation> eval, String summary) {

  public static CausalLmTask load(String task, Path evalFile, OnBadRecord onBad) throws IOException {
    Path file = Path.of(task);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "--task " + task + ": not a readable JSONL/CSV/TSV file of {prompt, completion}");
    }
    ReadOptions options = ReadOptions.DEFAULT.with(onBad);
    ReadResult read = ExampleReader.readAll(file, options);
    List<Example.Generation> all = generation(read, file);
    List<Example.Generation> train = new ArrayList<>();
    List<Example.Generation> eval = new ArrayList<>();
    if (evalFile != null) {
      train.addAll(all);
      eval.addAll(generation(ExampleReader.readAll(evalFile, options), evalFile));
    } else {
      for (int i = 0; i < all.size(); i++) {
        (Long.remainderUnsigned(SplitRule.mix64(i), 10) == 0 ? eval : train).add(all.get(i));
      }
    }
    if (train.isEmpty()) throw new IllegalArgumentException(file + ": no training examples");
    if (eval.isEmpty())
      throw new IllegalArgumentException(
          (evalFile != null ? evalFile : file) + ": no evaluation examples");
    return new CausalLmTask(file.getFileName().toString(), List.copyOf(train), List.copyOf(eval), String.format(
        "%s: %d train, %d eval prompt/completion pairs%s", file, train.size(), eval.size(),
        read.skippedCount() > 0 ? ", " + read.skippedCount() + " bad records skipped" : ""));
  }

  private static List<Example.Generation> generation(ReadResult read, Path file) {
    if (!read.examples().stream().allMatch(e -> e instanceof Example.Generation)) {
      throw new IllegalArgumentException(
          file
              + ": expected {prompt,completion} records for causal-LM fine-tuning, found {text,label}");
    }
    return read.examplesOf(Example.Generation.class);
  }
}
