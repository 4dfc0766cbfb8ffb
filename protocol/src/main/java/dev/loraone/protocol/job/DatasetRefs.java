package dev.loraone.protocol.job;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A job's data files named by content instead of by path: {@code dataset:<sha256 hex>}, a dataset
 * uploaded to the service ({@code POST /datasets}). The service checks that each one it is given is
 * stored; a worker replaces each one by the path of its local copy before it opens the job, so the
 * readers see an ordinary file.
 *
 * <pre>
 *   keys that may name one   task.train (shorthand task), task.eval, task.corpus, task.labels
 *   form                     dataset:[0-9a-f]{64}   (the file's SHA-256, lower-case hex)
 * </pre>
 */
public final class DatasetRefs {
  /** The prefix of a reference. */
  public static final String PREFIX = "dataset:";
  /** A SHA-256 in lower-case hex: a dataset's id. */
  public static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  /** The job keys whose value is a data file. */
  public static final List<String> KEYS = List.of("task.train", "task.eval", "task.corpus", "task.labels");

  private DatasetRefs() {}

  /** Whether {@code value} is meant as a reference (it starts with {@link #PREFIX}), well formed or not. */
  public static boolean isRef(String value) {
    return value != null && value.startsWith(PREFIX);
  }

  /**
   * Each key of {@code spec} that names a dataset, with the id it names; a malformed reference
   * throws, naming the key and what is expected.
   */
  public static Map<String, String> of(JobSpec spec) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String key : KEYS) {
      String v = spec.getString(key);
      if (!isRef(v)) continue;
      String sha = v.substring(PREFIX.length());
      if (!SHA256.matcher(sha).matches()) {
        throw new IllegalArgumentException("'job." + key + "' = \"" + v + "\": expected dataset:<SHA-256 of the"
            + " file, 64 lower-case hex digits> as POST /datasets answers it");
      }
      out.put(key, sha);
    }
    return out;
  }

  /**
   * {@code spec} with the given keys set to other values (local paths for references), every other
   * key as it was.
   */
  public static JobSpec with(JobSpec spec, Map<String, String> values) {
    if (values.isEmpty()) return spec;
    Config c = ConfigFactory.parseString(spec.render());
    for (var e : values.entrySet()) c = c.withValue("job." + e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
    return JobSpec.parseString(c.root().render(ConfigRenderOptions.concise()), spec.source());
  }
}
