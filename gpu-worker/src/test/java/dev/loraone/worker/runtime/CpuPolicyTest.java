package dev.loraone.worker.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CpuPolicyTest {
  /** The project's launcher, from this module's folder. */
  private static final Path SCRIPT = Path.of("..", "loraone");

  @Test
  void valuesParseAndBadOnesNameTheVariable() {
    assertEquals(CpuPolicy.SHARED, CpuPolicy.parse(null));
    assertEquals(CpuPolicy.SHARED, CpuPolicy.parse(" "));
    assertEquals(CpuPolicy.SHARED, CpuPolicy.parse("shared"));
    assertEquals(CpuPolicy.DEDICATED, CpuPolicy.parse(" Dedicated "));
    String bad = assertThrows(IllegalArgumentException.class, () -> CpuPolicy.parse("fast")).getMessage();
    assertEquals("LORAONE_CPU='fast': expected shared (the default) or dedicated", bad);
  }

  @Test
  void aChildEnvironmentGetsExactlyOnePolicysVariables() {
    Map<String, String> env = new HashMap<>(Map.of("OMP_WAIT_POLICY", "PASSIVE", "PATH", "/bin"));
    CpuPolicy.DEDICATED.applyTo(env);
    assertEquals(Map.of("PATH", "/bin", "LORAONE_CPU", "dedicated", "GOMP_SPINCOUNT", "300000",
        "GLIBC_TUNABLES", CpuPolicy.MALLOC_TUNABLES), env);
    CpuPolicy.SHARED.applyTo(env);
    assertEquals(Map.of("PATH", "/bin", "LORAONE_CPU", "shared", "OMP_WAIT_POLICY", "PASSIVE"), env);
    assertEquals("shared (OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=unset, GLIBC_TUNABLES=unset)",
        CpuPolicy.describe(env));
    assertTrue(CpuPolicy.describe(Map.of("LORAONE_CPU", "x")).startsWith("LORAONE_CPU='x': expected"));
  }

  @Test
  void theLauncherAndTheWorkerPodsSetTheSameValues() throws IOException {
    String script = Files.readString(SCRIPT, StandardCharsets.UTF_8);
    assertTrue(script.contains("export OMP_WAIT_POLICY=\"${OMP_WAIT_POLICY:-PASSIVE}\""), "shared: PASSIVE");
    assertTrue(script.contains("export GOMP_SPINCOUNT=\"${GOMP_SPINCOUNT:-" + CpuPolicy.SPIN_COUNT + "}\""),
        "dedicated: the spin count");
    assertTrue(script.contains("export GLIBC_TUNABLES=\"${GLIBC_TUNABLES:-" + CpuPolicy.MALLOC_TUNABLES + "}\""),
        "dedicated: the malloc tunables");
    String workers = Files.readString(Path.of("..", "deploy", "k8s", "workers.yaml"), StandardCharsets.UTF_8);
    assertTrue(workers.contains("value: dedicated") && workers.contains("value: \"" + CpuPolicy.SPIN_COUNT + "\"")
        && workers.contains("value: " + CpuPolicy.MALLOC_TUNABLES), "the k8s workers run the dedicated policy");
  }

  @Test
  void theLauncherRefusesABadValueBeforeBuildingAnything() throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), "doctor").redirectErrorStream(true);
    pb.environment().put("LORAONE_CPU", "turbo");
    Process p = pb.start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not exit");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), out);
    assertEquals("loraone: LORAONE_CPU='turbo': expected shared (the default) or dedicated\n", out);
    assertFalse(out.contains("building"), out);
  }
}
