package dev.loraone.worker.runtime;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Whether this process shares its CPU cores with other work or owns them ({@value #VARIABLE}), and the
 * process environment that follows: how libtorch's OpenMP threads wait between parallel regions, and
 * whether glibc keeps freed buffers for reuse.
 *
 * <pre>
 *   shared     OMP_WAIT_POLICY=PASSIVE     a thread sleeps as soon as its parallel region ends; waking it
 *                                          costs ~85 us per region on this project's 2-vCPU VM, so a
 *                                          SmolLM2-135M-shaped step (thousands of regions) runs ~15 % slower,
 *                                          but a spinning thread would take the core from other processes
 *                                          (a step under a 1-core CPU hog: 3.4 s passive, 7.1 s spinning)
 *   dedicated  GOMP_SPINCOUNT=300000       libgomp's own default: spin ~3 ms before sleeping (what PyTorch
 *              GLIBC_TUNABLES=malloc...    runs with when nothing is set); buffers below 32 MiB come from
 *                                          glibc's one arena, which keeps up to 1 GiB free at its top
 *                                          instead of giving pages back and faulting them in again
 * </pre>
 *
 * libgomp and glibc read these variables once, when they load, so they must be in the environment before
 * the JVM starts: {@code ./loraone} maps {@value #VARIABLE} to them (the same values; {@code
 * CpuPolicyTest} checks), and {@link #applyTo} sets them for a child JVM. Numbers: {@code
 * docs/results/llama-step-speed.md}.
 */
public enum CpuPolicy {
  /** Cores shared with other processes (a developer machine, CI): threads sleep between regions. */
  SHARED,
  /** Cores that are the job's own (a worker pod with its CPU request, a benchmark): spin, keep buffers. */
  DEDICATED;

  /** The environment variable {@code ./loraone} reads; {@code shared} when unset. */
  public static final String VARIABLE = "LORAONE_CPU";

  /** libgomp's spin count when OMP_WAIT_POLICY is unset (its env.c: "3 msec"). */
  static final String SPIN_COUNT = "300000";

  /**
   * glibc malloc: no mmap below 32 MiB, trim the heap's top only past 1 GiB, grow it 16 MiB at a time, and one
   * arena (a thread arena is a chain of 64 MiB heaps, each unmapped as soon as it is empty and faulted in
   * again by the next step: ~2 per step at SmolLM2's shape).
   */
  static final String MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432"
      + ":glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=16777216:glibc.malloc.arena_max=1";

  private static final String[] NAMES = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GLIBC_TUNABLES"};

  /** The policy a {@value #VARIABLE} value names ({@code shared} when null or blank). */
  public static CpuPolicy parse(String value) {
    if (value == null || value.isBlank()) return SHARED;
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "shared" -> SHARED;
      case "dedicated" -> DEDICATED;
      default -> throw new IllegalArgumentException(
          VARIABLE + "='" + value + "': expected shared (the default) or dedicated");
    };
  }

  /** The policy this process was started with ({@value #VARIABLE} of its environment). */
  public static CpuPolicy current() {
    return parse(System.getenv(VARIABLE));
  }

  /** The policy's {@value #VARIABLE} value: {@code shared} or {@code dedicated}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The variables this policy sets ({@code null}: removed). */
  public Map<String, String> environment() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put(VARIABLE, label());
    if (this == SHARED) {
      env.put("OMP_WAIT_POLICY", "PASSIVE");
      env.put("GOMP_SPINCOUNT", null);
      env.put("GLIBC_TUNABLES", null);
    } else {
      env.put("OMP_WAIT_POLICY", null);
      env.put("GOMP_SPINCOUNT", SPIN_COUNT);
      env.put("GLIBC_TUNABLES", MALLOC_TUNABLES);
    }
    return env;
  }

  /** Sets this policy's variables in a child process's {@code env} (a {@code ProcessBuilder}'s), removing the rest. */
  public void applyTo(Map<String, String> env) {
    environment().forEach((k, v) -> {
      if (v == null) {
        env.remove(k);
      } else {
        env.put(k, v);
      }
    });
  }

  /** {@code name (VAR=value, ...)} of this process's environment, for {@code loraone doctor}. */
  public static String describe(Map<String, String> env) {
    String name;
    try {
      name = parse(env.get(VARIABLE)).label();
    } catch (IllegalArgumentException e) {
      name = e.getMessage();
    }
    StringBuilder b = new StringBuilder(name).append(" (");
    for (int i = 0; i < NAMES.length; i++) {
      b.append(i == 0 ? "" : ", ").append(NAMES[i]).append('=').append(env.getOrDefault(NAMES[i], "unset"));
    }
    return b.append(')').toString();
  }
}
