package dev.loraone.worker.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The devices a worker node places jobs on: {@code cpu} or {@code cuda:K}, one worker actor each.
 * Parsed and checked before anything starts, so a CPU build asked for a GPU stops at once with
 * the reason (the {@code gpu} Maven profile swaps in libtorch with CUDA) instead of failing later
 * inside a job.
 *
 * <p>Determinism across devices: a job's adapter is bit-identical only across workers of the same
 * device kind and library versions; CUDA needs deterministic algorithms
 * ({@code CUBLAS_WORKSPACE_CONFIG=:4096:8}) and no atomics-based kernels on the gradient path.
 */
public final class Devices {
  private Devices() {}

  /**
   * {@code cpu} or {@code cuda:0,cuda:1,...} (also {@code gpu:K}); each entry checked against what
   * the engine sees.
   *
   * @throws IllegalArgumentException naming the option, the value and what was expected
   */
  public static List<String> parse(List<String> given) {
    if (given == null || given.isEmpty())
      throw new IllegalArgumentException("--device: give at least one (cpu or cuda:K)");
    List<String> out = new ArrayList<>();
    for (String raw : given) {
      String d = raw.trim().toLowerCase(Locale.ROOT).replaceFirst("^gpu:", "cuda:");
      if (d.equals("cpu")) {
        out.add(d);
      } else if (d.matches("cuda:\\d{1,3}")) {
        int k = Integer.parseInt(d.substring(5));
        int gpus = gpuCount();
        if (k >= gpus) {
          throw new IllegalArgumentException(
              "--device "
                  + raw
                  + ": "
                  + (gpus == 0
                      ? "this build's PyTorch sees no CUDA device; build with the gpu profile (mvn -Pgpu install "
                          + "-DskipTests) on a"
                          + " machine with an NVIDIA GPU and driver, or use --device cpu"
                      : "only "
                          + gpus
                          + " CUDA device(s) visible (cuda:0 .. cuda:"
                          + (gpus - 1)
                          + ")"));
        }
        out.add(d);
      } else {
        throw new IllegalArgumentException("--device " + raw + ": expected cpu or cuda:K (K = 0, 1, ...)");
      }
      if (out.subList(0, out.size() - 1).contains(out.get(out.size() - 1))) {
        throw new IllegalArgumentException("--device " + raw + " is listed twice: one worker actor per device");
      }
    }
    return List.copyOf(out);
  }

  /** The DJL device of a parsed name. */
  public static Device djl(String device) {
    return device.equals("cpu")
        ? Device.cpu()
        : Device.gpu(Integer.parseInt(device.substring(device.indexOf(':') + 1)));
  }

  /** The device kind a job's bits depend on: {@code cpu} or {@code cuda}. */
  public static String kind(String device) {
    return device.startsWith("cuda") ? "cuda" : "cpu";
  }

  /** Every device the engine sees: {@code cpu} and {@code cuda:K} for each visible GPU. */
  public static List<String> visible() {
    List<String> out = new ArrayList<>(List.of("cpu"));
    for (int k = 0; k < gpuCount(); k++) out.add("cuda:" + k);
    return out;
  }

  private static int gpuCount() {
    return Engine.getEngine("PyTorch").getGpuCount();
  }
}
