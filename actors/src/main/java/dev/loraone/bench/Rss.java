package dev.loraone.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Resident memory of this process from Linux's {@code /proc/self}: {@code VmRSS} (now) and {@code
 * VmHWM} (the high-water mark since start), both including the Java heap, libtorch's and ONNX
 * Runtime's native allocations and mapped libraries; and, for leak checks, the resident memory
 * outside the Java heap.
 *
 * <p>Why the last one: RSS keeps growing for minutes while G1 touches heap pages it committed
 * earlier (a 1000-step run of a small model grew by ~200 MiB with the committed heap nearly
 * constant), which hides or fakes native growth. The heap is one contiguous anonymous reservation
 * of about {@code -Xmx}; {@link #outsideHeapMiB()} sums the {@code Rss} of every mapping in {@code
 * /proc/self/smaps} except that range. Values are -1 where the files do not exist.
 *
 * @param rssMiB VmRSS in MiB
 * @param peakMiB VmHWM in MiB
 */
public record Rss(double rssMiB, double peakMiB) {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path SMAPS = Path.of("/proc/self/smaps");

  /** Reads both values now. */
  public static Rss read() {
    try {
      return parse(Files.readString(STATUS));
    } catch (IOException | UnsupportedOperationException e) {
      return new Rss(-1, -1);
    }
  }

  /** Parses the text of a {@code /proc/<pid>/status} file ({@code "VmRSS:  123456 kB"} lines). */
  static Rss parse(String status) {
    double rss = -1;
    double peak = -1;
    for (String line : status.split("\n")) {
      if (line.startsWith("VmRSS:")) rss = kib(line) / 1024.0;
      else if (line.startsWith("VmHWM:")) peak = kib(line) / 1024.0;
    }
    return new Rss(rss, peak);
  }

  /** Resident MiB outside the Java heap reservation now; -1 if smaps is unreadable or no heap range is found. */
  public static double outsideHeapMiB() {
    try {
      return outsideHeapMiB(Files.readAllLines(SMAPS), Runtime.getRuntime().maxMemory());
    } catch (IOException | UnsupportedOperationException e) {
      return -1;
    }
  }

  /**
   * Total {@code Rss} of a smaps listing less that of the Java heap, taken to be the largest run of
   * adjacent anonymous mappings whose size is at least 90% of {@code maxHeapBytes} (G1 reserves
   * {@code -Xmx} in one piece, split into mappings only by protection).
   */
  static double outsideHeapMiB(List<String> smaps, long maxHeapBytes) {
    long totalKib = 0;
    long bestSize = 0;
    long bestKib = 0;
    long runSize = 0;
    long runKib = 0;
    long previousEnd = -1;
    boolean anonymous = false;
    for (String line : smaps) {
      int dash = line.indexOf('-');
      int space = line.indexOf(' ');
      if (dash > 0 && space > dash && isHex(line, 0, dash) && isHex(line, dash + 1, space)) { // a mapping header
        long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
        long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
        String[] fields = line.trim().split("\\s+");
        boolean nowAnonymous = fields.length < 6;
        if (!(nowAnonymous && anonymous && start == previousEnd)) {
          runSize = 0;
          runKib = 0;
        }
        anonymous = nowAnonymous;
        previousEnd = end;
        if (anonymous) runSize += end - start;
      } else if (line.startsWith("Rss:")) {
        long kib = kib(line);
        totalKib += kib;
        if (anonymous) {
          runKib += kib;
          if (runSize > bestSize) {
            bestSize = runSize;
            bestKib = runKib;
          }
        }
      }
    }
    return bestSize >= 0.9 * maxHeapBytes ? (totalKib - bestKib) / 1024.0 : -1;
  }

  private static boolean isHex(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      if (Character.digit(s.charAt(i), 16) < 0) return false;
    }
    return to > from;
  }

  private static long kib(String line) {
    String[] parts = line.substring(line.indexOf(':') + 1).trim().split("\\s+");
    return Long.parseLong(parts[0]);
  }
}
