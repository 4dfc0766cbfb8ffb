package dev.loraone.cli;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr. On a terminal it redraws in place; otherwise (logs, CI) it
 * prints a line at every tenth of the work, so logs stay short.
 */
final class ProgressBar {
  private final PrintStream out;
  private final String label;
  private final int total;
  private final boolean tty;
  private final long start = System.nanoTime();
  private int lastDecile = -1;

  ProgressBar(PrintStream out, String label, int total) {
    this.out = out;
    this.label = label;
    this.total = Math.max(1, total);
    this.tty = System.console() != null;
  }

  void update(int done, String detail) {
    double elapsed = (System.nanoTime() - start) / 1e9;
    double eta = done > 0 ? elapsed / done * (total - done) : Double.NaN;
    int width = 24;
    int filled = (int) Math.round(width * done / (double) total);
    String line =
        String.format(
            "%s [%s%s] %d/%d %s  %s elapsed, ETA %s",
            label,
            "#".repeat(filled),
            ".".repeat(width - filled),
            done,
            total,
            detail,
            time(elapsed),
            Double.isNaN(eta) ? "?" : time(eta));
    if (tty) {
      out.print("\r" + line + (done >= total ? "\n" : ""));
      out.flush();
    } else {
      int decile = done * 10 / total;
      if (decile != lastDecile || done >= total) {
        lastDecile = decile;
        out.println(line);
      }
    }
  }

  static String time(double seconds) {
    long s = Math.round(seconds);
    return s >= 60 ? (s / 60) + "m" + String.format("%02d", s % 60) + "s" : s + "s";
  }
}
