package dev.loraone.protocol.job;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The schema of a job file: every key under {@code job}, its type, default and allowed range. The
 * one place a new job option is added; {@code conf/job-reference.conf} documents the same keys.
 */
public final class JobKeys {
  private JobKeys() {}

  enum Type { INT, DOUBLE, BOOLEAN, STRING, CHOICE, SIZE }

  /** One key: its path under {@code job}, type, default (null = unset) and constraints. */
  /**
   * Keys that change how a job runs but not one bit of its adapter: left out of the identity a checkpoint
   * records ({@link JobSpec#renderIdentity()}), so a job resumes after any of them changed.
   */
  public static final java.util.Set<String> SAME_RESULT = java.util.Set.of("init.memory-budget",
      "train.activation-checkpointing", "checkpoint.every", "eval.every", "workers.min", "workers.wait-seconds",
      "workers.fail-on-join-error", "export.onnx", "priority");

  record Key(String path, Type type, Object defaultValue, double min, double max, List<String> choices, String doc) {
    /** Null if the value is acceptable, else what is wrong and what was expected. */
    String check(Config c) {
      if (c.getIsNull(path)) {
        return defaultValue == null ? null : "must not be null: expected " + expected();
      }
      try {
        switch (type) {
          case INT -> {
            if (c.getValue(path).valueType() != ConfigValueType.NUMBER)
              return "expected an integer " + range() + ", got " + show(c);
            double v = c.getNumber(path).doubleValue();
            if (v != Math.rint(v)) return "expected an integer " + range() + ", got " + show(c);
            if (v < min || v > max) return "= " + show(c) + " is out of range: expected " + range();
          }
          case DOUBLE -> {
            if (c.getValue(path).valueType() != ConfigValueType.NUMBER)
              return "expected a number " + range() + ", got " + show(c);
            double v = c.getDouble(path);
            if (!(v >= min && v <= max)) return "= " + show(c) + " is out of range: expected " + range();
          }
          case BOOLEAN -> c.getBoolean(path);
          case SIZE -> {
            if (c.getBytes(path) < 0) return "= " + show(c) + " is out of range: expected " + expected();
          }
          case STRING -> {
            if (c.getValue(path).valueType() != ConfigValueType.STRING) return "expected a string, got " + show(c);
            if (c.getString(path).isBlank()) return "must not be blank";
          }
          case CHOICE -> {
            String v = c.getValue(path).valueType() == ConfigValueType.STRING ? c.getString(path) : null;
            if (v == null || !choices.contains(v)) return "= " + show(c) + " is not one of " + choices;
          }
        }
      } catch (ConfigException.WrongType | ConfigException.BadValue e) {
        return "expected " + expected() + ", got " + show(c);
      }
      return null;
    }

    private String show(Config c) {
      return c.getValue(path).render();
    }

    private String expected() {
      return switch (type) {
        case INT -> "an integer " + range();
        case DOUBLE -> "a number " + range();
        case BOOLEAN -> "true or false";
        case STRING -> "a string";
        case CHOICE -> "one of " + choices;
        case SIZE -> "a size >= 0 in bytes, or with a unit (512m, 2g)";
      };
    }

    private String range() {
      String lo = type == Type.INT ? String.valueOf((long) min) : String.valueOf(min);
      String hi =
          max == Double.MAX_VALUE || max == Integer.MAX_VALUE
              ? ""
              : (type == Type.INT ? String.valueOf((long) max) : String.valueOf(max));
      return hi.isEmpty() ? ">= " + lo : "in [" + lo + ", " + hi + "]";
    }
  }

  static final Map<String, Key> ALL;

  static {
    Map<String, Key> m = new LinkedHashMap<>();
    put(m, str("name", "job", "job name: [A-Za-z0-9._-], used for output folders"));
    put(m, str("model", "minilm",
        "minilm | bge-small | HF folder (config.json model_type bert, llama, mistral or qwen2)"));
    put(m, choice("task.type", "auto", "what is learned; auto = the model family's task (BERT: classification, Llama:"
        + " causal-lm); embedding: BERT sentence embeddings for retrieval", "auto", "classification", "causal-lm",
        "embedding"));
    put(m, str("task.train", "wordnet-supersense", "training data: wordnet-supersense | wordnet-supersense-all |"
        + " wordnet-gloss-retrieval | FILE (JSONL/CSV/TSV: text,label for classification; prompt,completion for"
        + " causal-lm; query,positive[,negative] for embedding); shorthand: task = FILE"));
    put(m, new Key("task.eval", Type.STRING, null, 0, 0, List.of(),
        "evaluation FILE (default: a stable tenth of task.train); shorthand: eval-file = FILE"));
    put(m, dbl("task.scale", 20, 1e-3, 1e4, "embedding: similarity scale of the in-batch-negatives loss"
        + " (sentence-transformers' MultipleNegativesRankingLoss: 20)"));
    put(m, new Key("task.corpus", Type.STRING, null, 0, 0, List.of(),
        "embedding: FILE of extra documents to retrieve from in evaluation (one per line, or JSONL {text})"));
    put(m, new Key("task.labels", Type.STRING, null, 0, 0, List.of(), "classification, head.init = labels: FILE of"
        + " 'label<TAB>description' lines, the text each class's head row embeds (default: the label itself; WordNet:"
        + " its lexicographer-file description)"));
    put(m, integer("seed", 0, 0, Long.MAX_VALUE, "seeds shuffling, dropout, random inits, the SVD test matrix"));
    put(m, integer("lora.rank", 8, 1, 4096, "LoRA rank r"));
    put(m, dbl("lora.alpha", 16, 1e-9, 1e6, "LoRA alpha"));
    put(m, bool("lora.rslora", true, "scaling alpha/sqrt(r) instead of alpha/r"));
    put(m, str("lora.targets", "all-linear", "target modules: comma list of name suffixes, all-linear or none"));
    put(m, dbl("lora.dropout", 0, 0, 0.999, "adapter dropout"));
    put(m, choice("init.method", "lora-one", "init rule", "lora-one", "lora", "gaussian", "pissa", "lora-ga"));
    put(m, integer("init.batch", 8, 1, 1 << 20, "examples per init micro-batch (paper: bsz)"));
    put(m, integer("init.iters", 8, 1, 1 << 20, "init micro-batches (paper: iters)"));
    put(
        m,
        integer(
            "init.shards",
            4,
            1,
            1 << 20,
            "canonical init shards: fixed, so the init does not depend on worker count"));
    put(
        m,
        choice(
            "init.mode",
            "randomized",
            "randomized: Halko rounds over shard products (lora-one); exact: reduce G (lora-ga always)",
            "randomized",
            "exact"));
    put(m, integer("init.q-factor", 4, 1, 64, "randomized SVD oversampling q = q-factor * r"));
    put(m, integer("init.niter", 2, 0, 64, "randomized SVD power iterations"));
    put(m, dbl("init.gamma", 0, 0, 1e12, "stable_gamma; 0 = method default (128 LoRA-One, 16 LoRA-GA)"));
    put(m, new Key("init.memory-budget", Type.SIZE, 0L, 0, 0, List.of(), "bytes the gradient estimate's float64"
        + " shard sums may take at once (HOCON size: 512m, 2g; 0 = unbounded): the target modules are cut, in model"
        + " order, into groups whose sums over all init.shards (8 x out x in x shards bytes per module) fit, and the"
        + " estimate runs one full forward/backward pass over the init batch per group, each group's SVD and init"
        + " done and its sums released before the next; a module larger than the budget alone is a group of its"
        + " own. The init is the same bits for any budget; time grows about with the number of groups"));
    put(m, choice("optimizer.name", "adamw", "optimizer", "adamw", "scaled-adamw", "scaled-gd"));
    put(m, dbl("optimizer.lr", 5e-4, 1e-12, 10, "learning rate"));
    put(m, dbl("optimizer.lora-plus-ratio", 1, 1e-6, 1e6, "LoRA+: lr_B = ratio * lr_A"));
    put(m, dbl("optimizer.weight-decay", 0, 0, 10, "decoupled weight decay"));
    put(m, dbl("optimizer.lambda", 1e-6, 1e-30, 1e12, "Scaled AdamW ridge"));
    put(m, choice("optimizer.schedule", "linear", "lr schedule", "constant", "linear", "cosine"));
    put(m, integer("optimizer.warmup", 10, 0, Integer.MAX_VALUE, "warmup steps (capped at train.steps)"));
    put(m, dbl("optimizer.max-grad-norm", 1.0, 1e-12, Double.MAX_VALUE, "global-norm clipping"));
    put(m, integer("train.steps", 100, 1, Integer.MAX_VALUE, "optimizer steps"));
    put(m, integer("train.batch", 16, 1, 1 << 20, "examples per step"));
    put(m, integer("train.micro-batch", 8, 1, 1 << 20, "examples per micro-batch (unit of work)"));
    put(m, integer("train.max-length", 64, 2, 1 << 16, "tokens per example"));
    put(m, bool("train.activation-checkpointing", false, "Llama family: keep only each decoder layer's input in the"
        + " forward and recompute the layers one by one in the backward; less activation memory for about one more"
        + " forward of time, the same gradient and adapter bits"));
    put(m, choice("train.bucket-by-length", "auto", "regroup each step's examples into its micro-batches by token"
        + " length, so short rows are not padded to long ones (the step's loss and gradient are the same sums;"
        + " StepDone's padding metric shows the padded share); auto: causal LM only. Not for embedding, whose"
        + " micro-batch is its in-batch negatives' pool", "auto", "true", "false"));
    put(m, integer("eval.every", 50, 0, Integer.MAX_VALUE, "evaluate every N steps (0: at the end only)"));
    put(m, integer("eval.examples", 512, 1, Integer.MAX_VALUE, "evaluation examples"));
    put(m, integer("head.warmup-steps", 0, 0, Integer.MAX_VALUE,
        "classification: head-only steps before the gradient estimate and init (linear probing first); 0 = none"));
    put(m, dbl("head.warmup-lr", 0, 0, 10, "learning rate of the head warm-up; 0 = optimizer.lr"));
    put(m, choice("head.init", "labels", "classification: the head's start. labels: each class's row is the"
        + " model's unit sentence embedding of its label text (or task.labels description) x head.temperature,"
        + " bias 0, so step 0 is zero-shot; random: normal(0, 0.02); warmup: random, then head.warmup-steps"
        + " (default 50) head-only steps. Default labels, by measurement (MiniLM, wordnet-supersense, 100 steps"
        + " of 16, seeds 0-2): zero-shot accuracy 0.38-0.40 at step 0 (chance 0.04), final 0.66-0.70 with"
        + " lora-one and with lora, against 0.47-0.54 random and 0.59-0.64 warmup. Needs a model with a pooling"
        + " convention (a folder: 1_Pooling/config.json)",
        "labels", "random", "warmup"));
    put(m, dbl("head.temperature", 20, 1e-3, 1e4, "head.init = labels: logits ~ temperature x cosine(text, label)"));
    put(m, integer("data.max-per-class", 200, 1, Integer.MAX_VALUE, "WordNet: examples per class and split"));
    put(m, choice("data.on-bad-record", "fail", "bad data records", "fail", "skip"));
    put(m, bool("export.onnx", true, "also export the merged model to ONNX (the PEFT adapter is always written)"));
    put(m, integer("checkpoint.every", 25, 0, Integer.MAX_VALUE, "checkpoint every N steps (0: phase ends only)"));
    put(m, integer("workers.min", 1, 1, 4096, "workers needed before the job starts"));
    put(m, integer("priority", 0, -1000, 1000, "the service's queue: higher first, in submission order within one"
        + " priority (a queued job waits until the nodes' free memory covers its estimate)"));
    put(m, bool("workers.fail-on-join-error", true,
        "fail the job when every worker that tried could not open it (model, data, targets); false: wait for others"));
    put(m, integer("workers.wait-seconds", 600, 0, Integer.MAX_VALUE,
        "fail the job when no worker has joined (at the start, or after all left) for this long; 0 waits forever"));
    ALL = Collections.unmodifiableMap(m);
  }

  private static void put(Map<String, Key> m, Key k) {
    m.put(k.path(), k);
  }

  private static Key integer(String p, long d, double min, double max, String doc) {
    return new Key(p, Type.INT, d, min, max, List.of(), doc);
  }

  private static Key dbl(String p, double d, double min, double max, String doc) {
    return new Key(p, Type.DOUBLE, d, min, max, List.of(), doc);
  }

  private static Key bool(String p, boolean d, String doc) {
    return new Key(p, Type.BOOLEAN, d, 0, 0, List.of(), doc);
  }

  private static Key str(String p, String d, String doc) {
    return new Key(p, Type.STRING, d, 0, 0, List.of(), doc);
  }

  private static Key choice(String p, String d, String doc, String... choices) {
    return new Key(p, Type.CHOICE, d, 0, 0, Arrays.asList(choices), doc);
  }

  static Config defaults() {
    Map<String, Object> m = new HashMap<>();
    ALL.values().forEach(k -> m.put(k.path(), k.defaultValue()));
    return ConfigFactory.parseMap(m, "defaults");
  }

  static String require(String key) {
    if (!ALL.containsKey(key)) throw new IllegalArgumentException("no job key '" + key + "'");
    return key;
  }

  /** " (did you mean 'x'?)" for the closest known key within edit distance 3, else the section's keys. */
  public static String suggest(String key) {
    String best = null;
    int bestD = Integer.MAX_VALUE;
    for (String k : ALL.keySet()) {
      int d = distance(key, k);
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    if (best != null && bestD <= 3) return " (did you mean 'job." + best + "'?)";
    String section = key.contains(".") ? key.substring(0, key.indexOf('.') + 1) : "";
    List<String> same = ALL.keySet().stream().filter(k -> !section.isEmpty() && k.startsWith(section)).toList();
    return same.isEmpty() ? "; known keys: " + ALL.keySet() : "; keys of this section: " + same;
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        cur[j] =
            Math.min(
                Math.min(cur[j - 1] + 1, prev[j] + 1),
                prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Human documentation of every key: path, default, doc. */
  /** Whether {@code key} (without the {@code job.} prefix) is a job key. */
  public static boolean known(String key) {
    return ALL.containsKey(key);
  }

  public static String describe() {
    StringBuilder sb = new StringBuilder();
    ALL.values()
        .forEach(
            k ->
                sb.append(
                    String.format(
                        "job.%-30s %-20s %s%n",
                        k.path(),
                        k.defaultValue() == null ? "(unset)" : k.defaultValue(),
                        k.doc() + (k.choices().isEmpty() ? "" : " " + k.choices()))));
    return sb.toString();
  }
}
