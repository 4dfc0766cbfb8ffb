package dev.loraone.lab;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.lab.CompareResults.Method;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code loraone compare} runs: one job per method and seed, each the base job with the
 * method's keys, the seed, a name and the compare's eval cadence laid over it. Pure apart from
 * parsing: a {@link JobSpec} in, validated {@link JobSpec}s out, before anything runs.
 *
 * <pre>
 *   method            job keys it sets
 *   lora              init.method = lora,     optimizer.name = adamw          (the baseline)
 *   lora-one          init.method = lora-one, optimizer.name = adamw
 *   lora-one-scaled   init.method = lora-one, optimizer.name = scaled-adamw
 *   pissa             init.method = pissa,    optimizer.name = adamw
 *   lora-ga           init.method = lora-ga,  optimizer.name = adamw, init.mode = exact
 *   head-only         lora.targets = none (classification only: the head trains, no adapters)
 *   every run         seed, name = BASE-METHOD-sSEED, eval.every, export.onnx = false
 * </pre>
 */
final class ComparePlan {
  private ComparePlan() {}

  /** The methods {@code --methods} can name, in table order. */
  static final List<Method> CATALOGUE = List.of(
      method("lora", "LoRA (default init)", "init.method", "lora", "optimizer.name", "adamw"),
      method("lora-one", "LoRA-One + AdamW", "init.method", "lora-one", "optimizer.name", "adamw"),
      method("lora-one-scaled", "LoRA-One + Scaled AdamW", "init.method", "lora-one", "optimizer.name", "scaled-adamw"),
      method("pissa", "PiSSA", "init.method", "pissa", "optimizer.name", "adamw"),
      method("lora-ga", "LoRA-GA", "init.method", "lora-ga", "optimizer.name", "adamw", "init.mode", "exact"),
      method("head-only", "head only (lora.targets = none)", "init.method", "lora", "optimizer.name", "adamw",
          "lora.targets", "none"));

  /** Evaluations per run when the job's own eval.every gives fewer: enough points for the speed measurement. */
  static final int EVAL_POINTS = 10;

  /**
   * The job {@code compare} runs without {@code --job}: MiniLM on WordNet supersense, the job
   * defaults at 120 steps, evaluated on every validation example (1179, at most 50 per class).
   */
  static final String BUILT_IN = """
      job {
        name = compare-wordnet
        model = minilm
        task.train = wordnet-supersense
        train.steps = 120
        eval.examples = 1000000
      }
      """;

  /** A method setting {@code keyValues}: key, value, key, value, ... */
  private static Method method(String key, String label, String... keyValues) {
    Map<String, Object> keys = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) keys.put(keyValues[i], keyValues[i + 1]);
    return new Method(key, label, java.util.Collections.unmodifiableMap(keys));
  }

  static Method method(String key) {
    return CATALOGUE.stream().filter(m -> m.key().equals(key)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("--methods: unknown method '" + key + "'; expected one of "
            + CATALOGUE.stream().map(Method::key).toList()));
  }

  /** One job: a method at a seed. */
  record PlannedRun(Method method, long seed, JobSpec spec) {
    String name() {
      return spec.getString("name");
    }
  }

  /**
   * The eval cadence of every run: {@code evalEvery} when given (> 0), else the job's when it gives
   * at least {@link #EVAL_POINTS} evaluations, else {@code steps / EVAL_POINTS} (at least 1).
   */
  static int evalEvery(JobSpec base, Integer evalEvery) {
    int steps = base.getInt("train.steps");
    if (evalEvery != null) {
      if (evalEvery < 1) throw new IllegalArgumentException("--eval-every must be >= 1, got " + evalEvery);
      return evalEvery;
    }
    int own = base.getInt("eval.every");
    if (own > 0 && steps / own >= EVAL_POINTS) return own;
    return Math.max(1, steps / EVAL_POINTS);
  }

  /** Seed-major (every method at the first seed, then the next), so an interrupted study has whole seeds. */
  static List<PlannedRun> runs(JobSpec base, List<Method> methods, List<Long> seeds, int evalEvery) {
    String stem = base.getString("name");
    List<PlannedRun> out = new ArrayList<>();
    for (long seed : seeds) {
      for (Method m : methods) {
        String suffix = "-" + m.key() + "-s" + seed;
        String name = stem.substring(0, Math.min(stem.length(), 64 - suffix.length())) + suffix;
        Map<String, Object> keys = new LinkedHashMap<>(m.keys());
        keys.put("seed", seed);
        keys.put("name", name);
        keys.put("eval.every", evalEvery);
        keys.put("export.onnx", false);
        out.add(new PlannedRun(m, seed, withKeys(base, keys)));
      }
    }
    return out;
  }

  /** {@code base} with {@code keys} (paths under {@code job}) set; the result is validated as any job. */
  static JobSpec withKeys(JobSpec base, Map<String, Object> keys) {
    Config job = ConfigFactory.parseString(base.render()).getConfig("job");
    Map<String, Object> flat = new LinkedHashMap<>();
    job.entrySet().forEach(e -> flat.put(e.getKey(), e.getValue().unwrapped()));
    flat.putAll(keys);
    return JobSpec.of(flat);
  }

  /**
   * Refuses head-only on a job without a classification head ({@code taskType} causal-lm or
   * embedding); null {@code taskType} (not known here, e.g. a model folder only the service sees)
   * passes, and the run reports its own failure.
   */
  static void checkMethods(List<Method> methods, String taskType) {
    boolean headOnly = methods.stream().anyMatch(m -> "none".equals(m.keys().get("lora.targets")));
    if (headOnly && taskType != null && !taskType.equals(TaskMetrics.CLASSIFICATION)) {
      throw new IllegalArgumentException("--methods: head-only trains a classification head alone; a " + taskType
          + " job has none (leave head-only out)");
    }
  }
}
