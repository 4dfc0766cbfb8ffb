package dev.loraone.protocol.job;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigIncludeContext;
import com.typesafe.config.ConfigIncluder;
import com.typesafe.config.ConfigIncluderClasspath;
import com.typesafe.config.ConfigIncluderFile;
import com.typesafe.config.ConfigIncluderURL;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * A fine-tuning job as written in a HOCON (or JSON) job file: every key under {@code job}, with
 * its type, default and allowed values declared once in {@link JobKeys}. Parsing checks every key
 * and reports every problem at once, each with the file and line it comes from: unknown or
 * mistyped keys (with a suggestion), wrong types, values out of range. Text from anywhere is
 * first checked for size and nesting ({@link JobTextShape#check}), so hostile text is a problem to report,
 * never a StackOverflowError that takes the JVM down.
 *
 * <p>The spec travels to workers as its canonical rendering ({@link #render()}), so the
 * coordinator and every worker read the same values; its SHA-256 names the job's configuration
 * in checkpoints.
 */
public final class JobSpec {
  /** What {@code job.name} may be: it names output folders and, with a sequence number, service job ids. */
  public static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  /** Deepest nesting a job text may have ({@link JobTextShape}). */
  public static final int MAX_DEPTH = JobTextShape.MAX_DEPTH;
  /** Most ${...} and += a job text may hold ({@link JobTextShape}). */
  public static final int MAX_SUBSTITUTIONS = JobTextShape.MAX_SUBSTITUTIONS;
  /** Longest job text in characters (a job file: bytes); loraone serve's default --max-body. */
  public static final int MAX_CHARS = JobTextShape.MAX_CHARS;

  private final Config job;
  private final String source;

  private JobSpec(Config job, String source) {
    this.job = job;
    this.source = source;
  }

  /** Every problem of a job file, one per line, each naming file, line and key. */
  public static final class InvalidJobException extends IllegalArgumentException {
    private final List<String> problems;

    InvalidJobException(String source, List<String> problems) {
      super("invalid job " + source + ":\n  " + String.join("\n  ", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }

  public static JobSpec parseFile(Path file) {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("job file " + file + " does not exist");
    String source = file.toString();
    String text;
    try {
      long size = Files.size(file);
      if (size > MAX_CHARS)
        throw new InvalidJobException(
            source, List.of(JobTextShape.tooLong(source, size + " bytes")));
      text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("job file " + file + " is not readable: " + e.getMessage(), e);
    }
    JobTextShape.check(text, source);
    return guarded(source, () -> {
      try {
        return of(ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false)), source);
      } catch (ConfigException.Parse e) {
        throw new InvalidJobException(source, List.of(e.getMessage()));
      }
    });
  }

  /**
   * Parses HOCON or JSON text (JSON is HOCON); {@code source} names it in messages. The text comes
   * from elsewhere (an HTTP request, a cluster message), so it may not read this JVM's files or
   * environment: {@code include} is refused and {@code ${VAR}} resolves only against the job
   * itself (a job file read with {@link #parseFile} keeps both).
   */
  public static JobSpec parseString(String text, String source) {
    JobTextShape.check(text, source);
    return guarded(source, () -> {
      Config raw;
      try {
        raw = ConfigFactory.parseString(text, ConfigParseOptions.defaults().setOriginDescription(source)
            .setSyntax(ConfigSyntax.CONF).setIncluder(new NoIncludes(source)));
      } catch (ConfigException e) {
        throw new InvalidJobException(source, List.of(e.getMessage()));
      }
      return of(raw, source, ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
    });
  }

  /**
   * Runs a parse whose text passed {@link JobTextShape#check}: whatever else the parser or resolver throws (a
   * {@code ConfigException}, or a {@code StackOverflowError} the shape check did not foresee) becomes an
   * {@link InvalidJobException} naming {@code source}. An Error must not escape: Pekko exits the JVM on one.
   */
  private static JobSpec guarded(String source, Supplier<JobSpec> parse) {
    try {
      return parse.get();
    } catch (InvalidJobException e) {
      throw e;
    } catch (StackOverflowError e) {
      throw new InvalidJobException(
          source, List.of(source + ": the text is nested or self-referential too deeply to parse"));
    } catch (ConfigException e) {
      throw new InvalidJobException(source, List.of(e.getMessage()));
    } catch (RuntimeException e) {
      throw new InvalidJobException(source, List.of(source + ": the job text could not be parsed: " + e));
    }
  }

  /**
   * Refuses every {@code include}: job text that is not a local file must not read local files,
   * URLs or resources.
   */
  private record NoIncludes(String source)
      implements ConfigIncluder, ConfigIncluderFile, ConfigIncluderURL, ConfigIncluderClasspath {
    @Override
    public ConfigIncluder withFallback(ConfigIncluder fallback) {
      return this;
    }

    private ConfigObject refuse(String what) {
      throw new ConfigException.Generic(
          source
              + ": 'include "
              + what
              + "' is not allowed here: a job sent as text may not read the"
              + " files of the JVM that parses it; put the included keys into the job");
    }

    @Override
    public ConfigObject include(ConfigIncludeContext context, String what) {
      return refuse("\"" + what + "\"");
    }

    @Override
    public ConfigObject includeFile(ConfigIncludeContext context, java.io.File what) {
      return refuse("file(\"" + what + "\")");
    }

    @Override
    public ConfigObject includeURL(ConfigIncludeContext context, java.net.URL what) {
      return refuse("url(\"" + what + "\")");
    }

    @Override
    public ConfigObject includeResources(ConfigIncludeContext context, String what) {
      return refuse("classpath(\"" + what + "\")");
    }
  }

  /**
   * A job file, or the defaults when {@code file} is null, with {@code job.key = value} lines laid
   * over it (HOCON, e.g. from command-line shorthands and {@code --set}); problems name {@code overridesSource}.
   */
  public static JobSpec parseFile(Path file, String overrides, String overridesSource) {
    Config over;
    try {
      over = ConfigFactory.parseString(overrides, ConfigParseOptions.defaults().setOriginDescription(overridesSource));
    } catch (ConfigException e) {
      throw new InvalidJobException(overridesSource, List.of(e.getMessage()));
    }
    if (file == null) {
      return of(
          over.hasPath("job")
              ? over
              : ConfigFactory.parseMap(Map.of("job.name", "job"), "defaults"),
          overridesSource);
    }
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("job file " + file + " does not exist");
    Config base;
    try {
      base = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException e) {
      throw new InvalidJobException(file.toString(), List.of(e.getMessage()));
    }
    return of(over.withFallback(base), overrides.isBlank() ? file.toString() : file + " with " + overridesSource);
  }

  /** A job from overrides of the defaults, e.g. {@code Map.of("train.steps", 10)}. */
  public static JobSpec of(Map<String, ?> overrides) {
    Map<String, Object> prefixed = new LinkedHashMap<>();
    overrides.forEach((k, v) -> prefixed.put("job." + SHORTHANDS.getOrDefault(k, k), v));
    return of(ConfigFactory.parseMap(prefixed, "overrides"), "overrides");
  }

  private static JobSpec of(Config raw, String source) {
    return of(raw, source, ConfigResolveOptions.defaults());
  }

  private static JobSpec of(Config raw, String source, ConfigResolveOptions resolve) {
    try { // the whole text first, so that ${job.x} means the job's key x
      raw = raw.resolve(resolve);
    } catch (ConfigException.UnresolvedSubstitution e) {
      throw new InvalidJobException(source, List.of(e.getMessage() + (resolve.getUseSystemEnvironment() ? ""
          : " (a job sent as text resolves ${...} against its own keys only, never the environment)")));
    }
    List<String> problems = new ArrayList<>();
    if (!raw.hasPath("job")) {
      throw new InvalidJobException(
          source,
          List.of("expected a top-level 'job { ... }' block; found keys " + raw.root().keySet()));
    }
    Config job;
    try {
      job = raw.getConfig("job");
    } catch (ConfigException.WrongType e) {
      throw new InvalidJobException(source, List.of(e.getMessage()));
    }
    List<String> shorthand = new ArrayList<>();
    job = expandShorthands(job, shorthand);
    problems.addAll(shorthand);
    for (String top : raw.root().keySet()) {
      if (!top.equals("job"))
        problems.add(
            where(raw.getValue(top)) + "unknown top-level key '" + top + "' (only 'job' is read)");
    }
    Set<String> known = JobKeys.ALL.keySet();
    for (Map.Entry<String, ConfigValue> e : job.entrySet()) {
      if (!known.contains(e.getKey())) {
        problems.add(where(e.getValue()) + "unknown key 'job." + e.getKey() + "'" + JobKeys.suggest(e.getKey()));
      }
    }
    Config merged = job.withFallback(JobKeys.defaults()).resolve(resolve);
    for (JobKeys.Key k : JobKeys.ALL.values()) {
      String problem = k.check(merged);
      if (problem != null) problems.add(where(merged.getValue(k.path())) + "'job." + k.path() + "' " + problem);
    }
    if (problems.isEmpty() && !NAME.matcher(merged.getString("name")).matches()) {
      problems.add(
          where(merged.getValue("name"))
              + "'job.name' = \""
              + merged.getString("name")
              + "\" is not a job name: expected 1-64 of [A-Za-z0-9._-], starting with a letter or digit (it names "
                  + "folders)");
    }
    if (problems.isEmpty()) {
      int batch = merged.getInt("train.batch");
      int micro = merged.getInt("train.micro-batch");
      if (batch % micro != 0) problems.add(where(merged.getValue("train.batch")) + "'job.train.batch' = " + batch
          + " must be a multiple of 'job.train.micro-batch' = " + micro);
      int initMb = merged.getInt("init.iters");
      int shards = merged.getInt("init.shards");
      if (initMb % shards != 0) problems.add(where(merged.getValue("init.shards")) + "'job.init.shards' = " + shards
          + " must divide 'job.init.iters' = " + initMb + " (each shard sums whole init micro-batches)");
    }
    if (!problems.isEmpty()) throw new InvalidJobException(source, problems);
    return new JobSpec(merged, source);
  }

  /** Shorthand keys of earlier job files and their keys now: {@code task = FILE}, {@code eval-file = FILE}. */
  private static final Map<String, String> SHORTHANDS = Map.of("task", "task.train", "eval-file", "task.eval");

  /**
   * {@code task = X} (a string) means {@code task.train = X}, and {@code eval-file = Y} means
   * {@code task.eval = Y}; giving both forms of one key is a problem naming both.
   */
  private static Config expandShorthands(Config job, List<String> problems) {
    if (job.hasPath("task") && job.getValue("task").valueType() == com.typesafe.config.ConfigValueType.STRING) {
      ConfigValue v = job.getValue("task");
      job = job.withoutPath("task").withValue("task.train", v);
    }
    if (job.hasPath("eval-file")) {
      ConfigValue v = job.getValue("eval-file");
      if (job.hasPath("task.eval")) {
        problems.add(where(v) + "'job.eval-file' and 'job.task.eval' both set the evaluation file; keep one");
      }
      job = job.withoutPath("eval-file");
      if (!job.hasPath("task.eval")) job = job.withValue("task.eval", v);
    }
    return job;
  }

  private static String where(ConfigValue v) {
    if (v == null || v.origin() == null) return "";
    String d = v.origin().filename() != null ? v.origin().filename() : v.origin().description();
    if (d == null || d.startsWith("defaults") || d.startsWith("merge of")) return "";
    return v.origin().lineNumber() > 0 && v.origin().filename() != null
        ? d + ":" + v.origin().lineNumber() + ": "
        : d + ": ";
  }

  public String source() {
    return source;
  }

  public int getInt(String key) {
    return job.getInt(JobKeys.require(key));
  }

  public long getLong(String key) {
    return job.getLong(JobKeys.require(key));
  }

  /** A size key's value in bytes ({@code 512m}, {@code 2g} or a plain number). */
  public long getBytes(String key) {
    return job.getBytes(JobKeys.require(key));
  }

  public double getDouble(String key) {
    return job.getDouble(JobKeys.require(key));
  }

  public boolean getBoolean(String key) {
    return job.getBoolean(JobKeys.require(key));
  }

  /**
   * A string value; null for keys whose default is absent and that the file does not set.
   * Shorthands name their key.
   */
  public String getString(String key) {
    String k = JobKeys.require(SHORTHANDS.getOrDefault(key, key));
    return job.getIsNull(k) ? null : job.getString(k);
  }

  /**
   * The canonical text of the full spec (defaults included), sorted; what workers receive. A size key
   * at 0 (its "unbounded" default, e.g. {@code init.memory-budget}) is left out, so a spec that does
   * not use it keeps the text, and the SHA-256 its checkpoints are matched by, that it had before the
   * key existed; reading the text back gives 0 again.
   */
  public String render() {
    return render(java.util.Set.of());
  }

  /**
   * What identifies the job's results: {@link #render()} without the keys that change how it runs but not
   * one bit of what it computes ({@link JobKeys#SAME_RESULT}: memory and time trade-offs, checkpoint and
   * evaluation cadence, worker waiting). A checkpoint of this text resumes under any of their values, e.g.
   * with activation checkpointing turned on after running out of memory.
   */
  public String renderIdentity() {
    return render(JobKeys.SAME_RESULT);
  }

  private String render(java.util.Set<String> leaveOut) {
    Map<String, Object> flat = new java.util.TreeMap<>();
    for (JobKeys.Key k : JobKeys.ALL.values()) {
      String p = k.path();
      if (leaveOut.contains(p)) continue;
      if (k.type() == JobKeys.Type.SIZE && !job.getIsNull(p) && job.getBytes(p) == 0) continue;
      Object v = job.getIsNull(p) ? null : switch (k.type()) {
        case INT -> job.getLong(p); // 16 and 16.0 render alike
        case DOUBLE -> job.getDouble(p);
        case SIZE -> job.getBytes(p); // 2g and 2147483648 render alike
        default -> job.getValue(p).unwrapped();
      };
      flat.put(p, v);
    }
    Config c = ConfigFactory.parseMap(Map.of("job", unflatten(flat)));
    return c.root().render(ConfigRenderOptions.concise().setFormatted(true));
  }

  private static Map<String, Object> unflatten(Map<String, Object> flat) {
    Map<String, Object> root = new java.util.TreeMap<>();
    flat.forEach(
        (k, v) -> {
          String[] parts = k.split("\\.");
          @SuppressWarnings("unchecked")
          Map<String, Object> node = root;
          for (int i = 0; i < parts.length - 1; i++) {
            @SuppressWarnings("unchecked")
            Map<String, Object> next =
                (Map<String, Object>)
                    node.computeIfAbsent(parts[i], x -> new java.util.TreeMap<String, Object>());
            node = next;
          }
          node.put(parts[parts.length - 1], v);
        });
    return root;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof JobSpec s && render().equals(s.render());
  }

  @Override
  public int hashCode() {
    return render().hashCode();
  }

  @Override
  public String toString() {
    return "JobSpec(" + source + ")";
  }
}
