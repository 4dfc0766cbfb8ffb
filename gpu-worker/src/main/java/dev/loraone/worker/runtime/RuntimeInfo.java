package dev.loraone.worker.runtime;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a worker runs on: JVM, DJL engine and libtorch, thread pools, ONNX Runtime and devices.
 *
 * <p>Collected once by {@code loraone doctor} and reported by workers when they register, so an
 * operator can see why two workers would not produce bit-identical gradients (different libtorch
 * builds or intra-op thread counts break the determinism contract of DESIGN.md section 4).
 */
public record RuntimeInfo(Map<String, String> entries) {

  /** The machine's physical memory in bytes (the container's limit where the JVM sees one); 0 when unknown. */
  public static long physicalMemory() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return Math.max(0, os.getTotalMemorySize());
    }
    return 0;
  }

  /** Probes the runtimes. Loads libtorch (unpacked into {@code DJL_CACHE_DIR} on first use). */
  public static RuntimeInfo probe() {
    Map<String, String> e = new LinkedHashMap<>();
    e.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
    e.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
    e.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    e.put("max heap", (Runtime.getRuntime().maxMemory() >> 20) + " MiB");
    e.put("cpu policy", CpuPolicy.describe(System.getenv()));
    e.put("djl", Engine.getDjlVersion());
    e.put("djl offline", System.getProperty("ai.djl.offline", "false"));
    e.put(
        "djl cache dir",
        firstNonNull(
            System.getProperty("DJL_CACHE_DIR"),
            System.getenv("DJL_CACHE_DIR"),
            "~/.djl.ai (unset)"));
    try {
      Engine engine = Engine.getEngine("PyTorch");
      e.put("engine", engine.getEngineName() + " " + engine.getVersion());
      e.put("pytorch", LibUtils.getVersion());
      e.put("libtorch path", LibUtils.getLibtorchPath());
      e.put("intra-op threads", Integer.toString(JniUtils.getNumThreads()));
      e.put("inter-op threads", Integer.toString(JniUtils.getNumInteropThreads()));
      int gpus = engine.getGpuCount();
      e.put("gpu", gpus > 0 ? gpus + " visible (" + engine.defaultDevice() + ")" : "none visible");
      e.put("devices", String.join(", ", Devices.visible()) + " (node --device)");
    } catch (RuntimeException | UnsatisfiedLinkError ex) {
      e.put("engine", "PyTorch engine failed to load: " + ex);
    }
    try {
      OrtEnvironment ort = OrtEnvironment.getEnvironment();
      e.put("onnxruntime", ort.getVersion());
      EnumSet<OrtProvider> providers = OrtEnvironment.getAvailableProviders();
      e.put("onnxruntime providers", providers.toString());
    } catch (RuntimeException | UnsatisfiedLinkError ex) {
      e.put("onnxruntime", "failed to load: " + ex);
    }
    return new RuntimeInfo(e);
  }

  private static String firstNonNull(String... xs) {
    for (String x : xs) if (x != null && !x.isBlank()) return x;
    return null;
  }
}
