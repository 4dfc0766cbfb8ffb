package dev.loraone.service;

import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.ModelRefs;
import dev.loraone.worker.train.EmbeddingTask;
import dev.loraone.worker.train.TaskData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What a job submitted over HTTP may read: built-in models and tasks, and files under the roots the
 * operator gave ({@code serve --data-root DIR}, {@code --model-root DIR}); without roots, built-ins
 * only. One tenant of a service cannot train on another's files or on the service's own disk:
 *
 * <pre>
 *   job.model                                   minilm | bge-small (and their full ids) | a folder under a model root
 *                                               | model:&lt;id&gt; (an upload; checked by ModelStore)
 *   job.task, task.eval, task.corpus, task.labels  a built-in task (job.task only) | a file under a data root
 *                                               | dataset:&lt;sha&gt; (an upload; checked by DatasetRoutes)
 * </pre>
 * A path is checked lexically first (absolute and normalised: {@code ..} cannot climb out), so a
 * path outside every root is refused without touching the disk (its existence is not disclosed);
 * a path inside that exists is then checked again by its real path, so a symbolic link that leads
 * out of the root is refused too. Relative paths resolve against the service's working directory,
 * as the workers resolve them. The CLI commands that run on the operator's own machine
 * ({@code finetune}, {@code train}, {@code node}) read any path.
 */
public record PathRoots(List<Path> data, List<Path> models) {
  private static final Set<String> BUILT_IN_MODELS = Set.of("minilm", "all-minilm-l6-v2", "bge-small",
      "bge-small-en-v1.5");
  private static final Set<String> BUILT_IN_TASKS = Set.of(TaskData.WORDNET, TaskData.WORDNET_ALL,
      EmbeddingTask.WORDNET_GLOSS);

  /** Checks each root: it must be an existing folder (the error names the flag). */
  public PathRoots {
    data = List.copyOf(data.stream().map(p -> root(p, "--data-root")).toList());
    models = List.copyOf(models.stream().map(p -> root(p, "--model-root")).toList());
  }

  /** No roots: HTTP jobs may name built-in models and tasks only. */
  public static PathRoots none() {
    return new PathRoots(List.of(), List.of());
  }

  /** Every key of {@code spec} that names a path outside the roots, as "'job.key' = value: why". */
  public List<String> problems(JobSpec spec) {
    List<String> out = new ArrayList<>();
    String model = spec.getString("model");
    if (!BUILT_IN_MODELS.contains(model) && !ModelRefs.isRef(model)) check("model", model, models, "--model-root", out);
    String task = spec.getString("task");
    if (!BUILT_IN_TASKS.contains(task) && !DatasetRefs.isRef(task)) check("task", task, data, "--data-root", out);
    for (String key : List.of("task.eval", "task.corpus", "task.labels")) {
      String v = spec.getString(key);
      if (v != null && !DatasetRefs.isRef(v)) check(key, v, data, "--data-root", out); // uploads: DatasetRoutes
    }
    return out;
  }

  private static void check(String key, String value, List<Path> roots, String option, List<String> out) {
    String why = outside(value, roots);
    if (why == null) return;
    String within = roots.isEmpty() ? "this service reads no files for HTTP jobs (start it with " + option + " DIR)"
        : "expected a path under " + option + " " + String.join(", ", roots.stream().map(Path::toString).toList());
    out.add("'job." + key + "' = \"" + value + "\" " + why + "; " + within);
  }

  /** Why {@code value} is not under one of {@code roots}, or null when it is. */
  private static String outside(String value, List<Path> roots) {
    Path p;
    try {
      p = Path.of(value).toAbsolutePath().normalize();
    } catch (InvalidPathException e) {
      return "is not a path";
    }
    Path lexical = p;
    if (roots.stream().noneMatch(lexical::startsWith)) return "is outside the service's roots";
    if (!Files.exists(p)) return null; // the preflight says "no such file"
    try {
      Path real = p.toRealPath();
      for (Path root : roots) {
        if (real.startsWith(root.toRealPath())) return null;
      }
      return "leads outside the service's roots (a link)";
    } catch (IOException e) {
      return "cannot be resolved (" + e.getMessage() + ")";
    }
  }

  /** The root as an absolute, normalised path (the lexical check's form); it must be an existing folder. */
  private static Path root(Path root, String option) {
    if (!Files.isDirectory(root)) throw new IllegalArgumentException(option + " " + root + ": no such folder");
    return root.toAbsolutePath().normalize();
  }
}
