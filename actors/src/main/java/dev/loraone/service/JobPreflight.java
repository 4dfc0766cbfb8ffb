package dev.loraone.service;

import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.TaskData;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a worker would refuse about a job's model and task, checked when the job is submitted, so that
 * such a job is a 400 naming the key ({@code job.model}, {@code job.task}) and what is expected
 * instead of a queued job that fails late on a worker:
 *
 * <pre>
 *   job.model   a built-in name, or an HF folder whose config.json has a supported model_type (ModelFamily.detect)
 *   job.task    BERT: wordnet-supersense | wordnet-supersense-all | a file
 *               Llama: a file (causal LM has no built-in task)
 *   job.task.eval   an existing file, and only with a task file
 *   job.task.type   auto, or the task the model's family trains
 * </pre>
 * Paths are read on the service's machine: workers elsewhere must see them at the same paths (a shared
 * file system), as they did before this check. Whether a file's records fit the task is left to the workers.
 */
final class JobPreflight {
  private JobPreflight() {}

  /** Every problem of {@code spec}'s model and task, each prefixed with the spec's source; empty when it may run. */
  static List<String> problems(JobSpec spec) {
    List<String> out = new ArrayList<>();
    ModelFamily family = null;
    String model = spec.getString("model");
    try {
      family = ModelFamily.detect(model);
    } catch (IllegalArgumentException e) { // an unreadable config.json: its message names the file only
      String m = e.getMessage();
      out.add(m.contains("'job.model'") ? m : "'job.model' = \"" + model + "\": " + m);
    }
    String task = spec.getString("task");
    boolean builtIn = task.equals(TaskData.WORDNET) || task.equals(TaskData.WORDNET_ALL);
    String files = "a JSONL, CSV or TSV file of ";
    if (builtIn && family == ModelFamily.LLAMA) {
      out.add("'job.task' = \"" + task + "\" is a built-in classification task, but 'job.model' is a Llama model, which"
          + " trains " + family.taskType() + ": expected " + files + "{prompt, completion}");
    } else if (!builtIn && !isFile(task)) {
      String builtIns = TaskData.WORDNET + ", " + TaskData.WORDNET_ALL + " or " + files;
      String expected = family == ModelFamily.LLAMA ? files + "{prompt, completion}"
          : family == ModelFamily.BERT ? builtIns + "{text, label}"
          : builtIns + "{text, label} or {prompt, completion}";
      out.add("'job.task' = \"" + task + "\": no such file; expected " + expected);
    }
    String eval = spec.getString("task.eval");
    if (eval != null && builtIn) {
      out.add("'job.task.eval' = \"" + eval + "\" is only read with a task FILE; the built-in task " + task
          + " evaluates on its own validation split (unset it, or give task = your training FILE)");
    } else if (eval != null && !isFile(eval)) {
      out.add("'job.task.eval' = \"" + eval + "\": no such file; expected " + files + "evaluation records");
    }
    if (family != null) {
      try {
        FinetuneConfig.checkTaskType(spec.getString("task.type"), model);
      } catch (IllegalArgumentException e) {
        out.add(e.getMessage());
      }
    }
    return out.stream().map(p -> spec.source() + ": " + p).toList();
  }

  private static boolean isFile(String path) {
    try {
      return Files.isRegularFile(Path.of(path));
    } catch (InvalidPathException e) {
      return false;
    }
  }
}
