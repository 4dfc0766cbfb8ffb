package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link JobEstimate} against real runs: small jobs of different shapes, each in a fresh JVM with the worker
 * nodes' heap ({@code -Xmx1536m}), measured as the peak resident memory (VmHWM: heap, libtorch's and ONNX
 * Runtime's native memory) minus the resident memory once the engine is up. Tolerance: the estimate covers the
 * measurement and is at most twice it.
 */
class CapacityEstimateIT {
  @TempDir static Path dir;

  static final List<String> JOBS = List.of(
      CapacityIT.job("small", 0, false),
      CapacityIT.job("big", 0, true),
      CapacityIT.job("long", 0, false).replace("micro-batch = 4, max-length = 16", "micro-batch = 8, max-length = 128"),
      CapacityIT.job("bge", 0, false).replace("name = bge", "name = bge, model = bge-small"));

  @Test
  void theEstimateCoversEachMeasuredPeakAndIsWithinTwiceIt() throws Exception {
    Path jar = ServiceProcess.JAR;
    assertTrue(Files.isRegularFile(jar), jar + " is missing: the ITs run after `mvn package`");
    String cp = jar + java.io.File.pathSeparator + Path.of("target", "test-classes").toAbsolutePath();
    List<String> lines = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < JOBS.size(); i++) {
      Path file = dir.resolve("job" + i + ".conf");
      Files.writeString(file, JOBS.get(i));
      List<String> cmd = new ArrayList<>(ServiceProcess.java(List.of(), List.of()));
      cmd.remove(cmd.size() - 1); // the jar
      cmd.remove(cmd.size() - 1); // -jar
      cmd.addAll(List.of("-cp", cp, PeakRssProbe.class.getName(), file.toString(), dir.resolve("out" + i).toString()));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), out);
      String peak = out.lines().filter(l -> l.startsWith("PEAK ")).findFirst()
          .orElseThrow(() -> new AssertionError(out));
      String[] f = peak.split(" ");
      assertEquals("0", f[3], out);
      double measured = Double.parseDouble(f[2]) - Double.parseDouble(f[1]);
      JobEstimate e = JobEstimate.of(JobSpec.parseString(JOBS.get(i), "job" + i));
      double estimated = e.bytes() / (double) (1L << 20);
      String line = String.format(Locale.ROOT, "job%d: runtime %s MiB, peak %s MiB, measured %.0f MiB, estimate %.0f"
          + " MiB (%.2fx): %s", i, f[1], f[2], measured, estimated, estimated / measured, e.describe());
      lines.add(line);
      if (estimated < measured || estimated > 2 * measured) failures.add(line);
    }
    System.out.println("[CapacityEstimateIT]\n  " + String.join("\n  ", lines));
    assertTrue(failures.isEmpty(), "outside [measured, 2 x measured]:\n" + String.join("\n", failures));
  }
}
