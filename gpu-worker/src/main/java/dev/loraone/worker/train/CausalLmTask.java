package dev.loraone.worker.train;

import dev.loraone.data.BadRecordException;
import dev.loraone.data.CausalLmRow;
import dev.loraone.data.ChatTemplate;
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
 * A causal-LM task: {@code {prompt, completion}} or {@code {messages}} records of a JSONL/CSV/TSV file
 * split into train and evaluation rows, the generation counterpart of {@link TaskData}.
 *
 * <p>Chat records are rendered here, once, with the model folder's chat template ({@link ChatTemplate}),
 * so a record the template refuses fails the job when its data loads, naming the record's file and line,
 * never in the middle of training (under {@code on-bad-record = skip} it is skipped and counted). A file
 * holds one kind of record ({@link ExampleReader}); the train and eval files may differ in kind.
 * Without an eval file a stable 10% of the records is held out, by the same SplitMix64 rule over the
 * record index as {@link TaskData}.
 */
public record CausalLmTask(String name, List<CausalLmRow> train, List<CausalLmRow> eval, String summary) {

  private static final String RECORDS = "{prompt,completion} or {messages}";

  /**
   * Reads the task file (and the eval file) of a causal-LM job on the checkpoint {@code modelDir}.
   *
   * @throws BadRecordException for a bad record, chat ones included (see {@link ChatTemplate#render(Example.Chat)})
   * @throws IllegalArgumentException for a file of another kind of record, or chat records and a model
   *     without a chat template (naming its tokenizer_config.json)
   */
  public static CausalLmTask load(String task, Path evalFile, OnBadRecord onBad, Path modelDir) throws IOException {
    Path file = Path.of(task);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "--task " + task + ": not a readable JSONL/CSV/TSV file of " + RECORDS);
    }
    ReadOptions options = ReadOptions.DEFAULT.with(onBad);
    ReadResult read = ExampleReader.readAll(file, options);
    long[] skipped = {read.skippedCount()};
    List<CausalLmRow> all = rows(read, file, modelDir, onBad, skipped);
    List<CausalLmRow> train = new ArrayList<>();
    List<CausalLmRow> eval = new ArrayList<>();
    if (evalFile != null) {
      train.addAll(all);
      eval.addAll(rows(ExampleReader.readAll(evalFile, options), evalFile, modelDir, onBad, new long[1]));
    } else {
      for (int i = 0; i < all.size(); i++) {
        (Long.remainderUnsigned(SplitRule.mix64(i), 10) == 0 ? eval : train).add(all.get(i));
      }
    }
    if (train.isEmpty()) throw new IllegalArgumentException(file + ": no training examples");
    if (eval.isEmpty())
      throw new IllegalArgumentException(
          (evalFile != null ? evalFile : file) + ": no evaluation examples");
    String kind = train.get(0) instanceof Example.Generation ? "prompt/completion pairs" : "chats";
    return new CausalLmTask(file.getFileName().toString(), List.copyOf(train), List.copyOf(eval), String.format(
        "%s: %d train, %d eval %s%s", file, train.size(), eval.size(), kind,
        skipped[0] > 0 ? ", " + skipped[0] + " bad records skipped" : ""));
  }

  /** The records of one file as rows: generation records as they are, chat records rendered. */
  private static List<CausalLmRow> rows(ReadResult read, Path file, Path modelDir, OnBadRecord onBad,
      long[] skipped) throws IOException {
    List<CausalLmRow> out = new ArrayList<>(read.examples().size());
    ChatTemplate template = null;
    for (Example e : read.examples()) {
      if (e instanceof Example.Generation g) {
        out.add(g);
      } else if (e instanceof Example.Chat c) {
        if (template == null) template = ChatTemplate.require(modelDir, c.source());
        try {
          out.add(template.render(c));
        } catch (BadRecordException bad) {
          if (onBad == OnBadRecord.FAIL) throw bad;
          skipped[0]++;
        }
      } else {
        String found = e instanceof Example.Classification ? "{text,label}" : "{query,positive[,negative]}";
        throw new IllegalArgumentException(
            file + ": expected " + RECORDS + " records for causal-LM fine-tuning, found " + found);
      }
    }
    return out;
  }
}
