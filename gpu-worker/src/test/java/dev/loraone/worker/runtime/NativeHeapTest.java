package dev.loraone.worker.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** The trim goes through the JVM's diagnostic command where this JVM has it, and is a reported no-op elsewhere. */
class NativeHeapTest {
  @Test
  void trimRunsTheJvmsCommandWhereItExists() throws Exception {
    boolean has = Arrays.stream(ManagementFactory.getPlatformMBeanServer()
            .getMBeanInfo(new ObjectName("com.sun.management:type=DiagnosticCommand")).getOperations())
        .anyMatch(op -> op.getName().equals("systemTrimNativeHeap"));
    String report = NativeHeap.trim();
    if (has) {
      // HotSpot 17.0.9+: "Trim native heap: RSS+Swap: 48784K->48784K (+0B)" on glibc, or why it cannot
      assertTrue(report.toLowerCase(java.util.Locale.ROOT).contains("trim"), report);
      assertTrue(!report.startsWith("not trimmed"), report);
    } else {
      assertTrue(report.startsWith("not trimmed: "), report);
    }
  }
}
