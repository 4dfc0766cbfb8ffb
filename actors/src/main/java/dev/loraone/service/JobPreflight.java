package dev.loraone.service;

import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.train.EmbeddingTask;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.TaskData;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
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
 *   job.model   a built-in name, or an HF folder whose config.json has a supported model_type (ModelFamily.detect);
 *               a Llama-family folder also every config.json key and its weight files (LlamaCheckpoint.checkFolder)
 *   job.train.max-length  within a Llama-family model's max_position_embeddings and its sliding_window (Mistral;
 *               Qwen2 with use_sliding_window), which this engine does not implement: a longer sequence is refused
 *   job.task    classification (BERT): wordnet-supersense | wordnet-supersense-all | a file
 *               embedding (BERT): wordnet-gloss-retrieval | a file
 *               causal LM (Llama): a file (no built-in task)
 *   job.task.corpus an existing file
 *   job.task.eval   an existing file, and only with a task file
 *   job.task.type   auto, or a task the model's family trains
 * </pre>
 * Paths are read on the service's machine: workers elsewhere must see them at the same paths (a shared
 * file system), as they did before this check, unless the job names uploads ({@code dataset:<sha>},
 * {@code model:<id>}), which this check sees as the service's stored copies and workers fetch.
 * Whether a file's records fit the task is left to the workers,
 * which read and check them (chat records rendered with the model's chat template included) when they open
 * the job, before any step: a worker that cannot open it reports why (the record's file and line), and the
 * job fails with that reason without training.
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
    if (family == ModelFamily.LLAMA) {
      try {
        // rope_scaling, biases, pickles: refused now, not on a worker
        out.addAll(lengthProblems(spec, LlamaCheckpoint.checkFolder(Path.of(model))));
      } catch (IllegalArgumentException | IOException e) {
        out.add("'job.model' = \"" + model + "\": " + e.getMessage());
      }
    }
    String task = spec.getString("task");
    String type = spec.getString("task.type");
    String trains = family == null ? null : type.equals("auto") ? family.defaultTaskType() : type;
    List<String> builtIns = List.of(TaskData.WORDNET, TaskData.WORDNET_ALL, EmbeddingTask.WORDNET_GLOSS);
    boolean builtIn = builtIns.contains(task);
    String files = "a JSONL, CSV or TSV file of ";
    if (builtIn && trains != null && !builtInsOf(trains).contains(task)) {
      String kind = task.equals(EmbeddingTask.WORDNET_GLOSS) ? TaskMetrics.EMBEDDING : TaskMetrics.CLASSIFICATION;
      out.add("'job.task' = \"" + task + "\" is a built-in " + kind + " task, but the job trains " + trains
          + " ('job.model' = " + model + ", 'job.task.type' = " + type + "): expected " + expected(trains, files));
    } else if (!builtIn && !isFile(task)) {
      String expected = trains != null ? expected(trains, files) : String.join(", ", builtIns) + " or " + files
          + "{text, label}, {prompt, completion}, {messages} or {query, positive}";
      out.add("'job.task' = \"" + task + "\": no such file; expected " + expected);
    }
    String corpus = spec.getString("task.corpus");
    if (corpus != null && !isFile(corpus)) {
      out.add("'job.task.corpus' = \"" + corpus + "\": no such file; expected one document per line");
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

  /**
   * A sequence of {@code train.max-length} tokens must fit the model's positions and, where the config
   * sets a sliding window, the window: attention within it is exact, beyond it the engine would compute
   * full attention where the model was trained with a window.
   */
  static List<String> lengthProblems(JobSpec spec, LlamaConfig config) {
    int length = spec.getInt("train.max-length");
    String model = spec.getString("model");
    List<String> out = new ArrayList<>();
    if (length > config.maxPositions()) {
      out.add("'job.train.max-length' = " + length + " exceeds config.json 'max_position_embeddings' = "
          + config.maxPositions() + " of " + model + ": expected train.max-length <= " + config.maxPositions());
    }
    if (config.slidingWindow() > 0 && length > config.slidingWindow()) {
      out.add("'job.train.max-length' = " + length + " exceeds config.json 'sliding_window' = "
          + config.slidingWindow() + " of " + model + ", and sliding-window attention is not implemented:"
          + " expected train.max-length <= " + config.slidingWindow());
    }
    return out;
  }

  /** The built-in tasks of a task type. */
  private static List<String> builtInsOf(String taskType) {
    return switch (taskType) {
      case TaskMetrics.CLASSIFICATION -> List.of(TaskData.WORDNET, TaskData.WORDNET_ALL);
      case TaskMetrics.EMBEDDING -> List.of(EmbeddingTask.WORDNET_GLOSS);
      default -> List.of();
    };
  }

  /** What {@code job.task} may be for a task type. */
  private static String expected(String taskType, String files) {
    String records = switch (taskType) {
      case TaskMetrics.CAUSAL_LM -> "{prompt, completion} or {messages}";
      case TaskMetrics.EMBEDDING -> "{query, positive[, negative]}";
      default -> "{text, label}";
    };
    List<String> builtIns = builtInsOf(taskType);
    return (builtIns.isEmpty() ? "" : String.join(", ", builtIns) + " or ") + files + records;
  }

  private static boolean isFile(String path) {
    try {
      return Files.isRegularFile(Path.of(path));
    } catch (InvalidPathException e) {
      return false;
    }
  }
}
