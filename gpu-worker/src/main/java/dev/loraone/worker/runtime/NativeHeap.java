package dev.loraone.worker.runtime;

import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Gives the C allocator's free memory back to the system: the JVM's {@code System.trim_native_heap}
 * diagnostic command (glibc {@code malloc_trim(0)}), called through the platform MBean server, so no
 * JVM flag or native code is needed. libtorch allocates its arrays with glibc malloc; once its
 * dynamic mmap threshold has risen, arrays below 32 MiB come from malloc's arenas, and what a backward
 * pass frees there stays resident, fragmented, until something trims it: 2-3 GB after the one-step
 * gradient passes of a 1B model. Trimming returns every whole free page; the next allocations fault
 * them in again, so it is for phase ends (an init group done), not for every step.
 */
public final class NativeHeap {
  private static final String COMMAND = "systemTrimNativeHeap";

  private NativeHeap() {}

  /**
   * Trims the native heap where the JVM and C library can (HotSpot 17.0.9+ on glibc); a no-op
   * elsewhere.
   *
   * @return the JVM's report (sizes before and after), or why nothing was trimmed
   */
  public static String trim() {
    try {
      Object out = ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), COMMAND,
          new Object[] {new String[0]}, new String[] {String[].class.getName()});
      return String.valueOf(out).strip();
    } catch (JMException | RuntimeException e) {
      return "not trimmed: " + e;
    }
  }
}
