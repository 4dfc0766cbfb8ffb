package dev.loraone.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.Locale;
import java.util.Map;

/**
 * The memory a worker node offers to jobs ({@code --memory} on {@code loraone node} and {@code loraone serve},
 * config key {@value #KEY}): a size ({@code 6GiB}, {@code 1500MiB}, bytes) or {@code auto}.
 *
 * <p>{@code auto} is twice the JVM's max heap ({@code -Xmx}), capped at the machine's physical memory: a job's
 * heap part (the tokenized data, the weights while they load, the ONNX export's merged copy) lives in the heap,
 * and about as much again lives outside it (DJL/libtorch NDArrays: the frozen weights, activations, gradients,
 * optimizer state, init gradient sums). The node's own runtime (JVM, libtorch, Pekko) is not part of it.
 */
public final class NodeMemory {
  /** The config key {@code --memory} sets. */
  public static final String KEY = "loraone.node.memory";

  private NodeMemory() {}

  /** The bytes of {@code value} ({@code auto} or a HOCON size); a bad value names the option and the value. */
  public static long parse(String value) {
    if (value == null || value.isBlank() || value.trim().toLowerCase(Locale.ROOT).equals("auto")) return auto();
    long bytes;
    try {
      bytes = ConfigFactory.parseMap(Map.of("m", value.trim())).getBytes("m");
    } catch (ConfigException e) {
      throw new IllegalArgumentException("--memory '" + value + "': expected auto or a size such as 6GiB or 1500MiB");
    }
    if (bytes < 1) throw new IllegalArgumentException("--memory '" + value + "': expected a size above 0");
    long physical = physical();
    if (physical > 0 && bytes > physical) {
      throw new IllegalArgumentException("--memory '" + value + "': more than this machine's physical memory ("
          + show(physical) + "); the scheduler would place jobs this node cannot hold");
    }
    return bytes;
  }

  /** {@value #KEY} from the node's config, {@code auto} when absent. */
  public static long of(Config config) {
    return parse(config.hasPath(KEY) ? config.getString(KEY) : "auto");
  }

  /** {@code auto}: 2 x the max heap, at most the physical memory. */
  public static long auto() {
    long twice = 2 * Runtime.getRuntime().maxMemory();
    long physical = physical();
    return physical > 0 ? Math.min(twice, physical) : twice;
  }

  /** The machine's physical memory in bytes (the container's limit where the JVM sees one); 0 when unknown. */
  public static long physical() {
    return dev.loraone.worker.runtime.RuntimeInfo.physicalMemory();
  }

  /** {@code bytes} as people read it: {@code 1.2 GiB}, {@code 640 MiB}. */
  public static String show(long bytes) {
    if (bytes >= (1L << 30)) return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    return String.format(Locale.ROOT, "%d MiB", Math.round(bytes / (double) (1L << 20)));
  }
}
