package dev.loraone.lab;

import dev.loraone.cli.Main;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TheoryCommandTest {

  /** Exit code, stdout and stderr of one {@code loraone ...} invocation. */
  private record Outcome(int code, String out, String err) {}

  private static Outcome loraone(String... args) {
    CommandLine cl = Main.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void jsonForExperimentBReportsLoraOneConvergingAndLoraGaStalling() throws Exception {
    Outcome o = loraone("theory", "--experiment", "b", "--json");
    assertEquals(0, o.code(), o.err());
    JsonNode doc = new ObjectMapper().readTree(o.out());
    assertTrue(doc.get("allClaimsHold").asBoolean());
    assertEquals(2, doc.get("claims").size());
    assertTrue(doc.get("a").isNull() && doc.get("c").isNull());
    JsonNode runs = doc.get("b").get("runs");
    assertEquals("LORA_ONE", runs.get(0).get("method").asText());
    JsonNode oneRisk = runs.get(0).get("risk");
    assertEquals(101, oneRisk.size());
    assertTrue(oneRisk.get(100).asDouble() <= 1e-20, "LoRA-One final risk " + oneRisk.get(100));
    JsonNode gaRisk = runs.get(1).get("risk");
    assertEquals("LORA_GA", runs.get(1).get("method").asText());
    assertTrue(gaRisk.get(100).asDouble() > 1e-3, "LoRA-GA final risk " + gaRisk.get(100));
  }

  @Test
  void jsonForExperimentCReportsStepsPerKappa() throws Exception {
    Outcome o = loraone("theory", "--experiment", "c", "--json", "--seed", "1");
    assertEquals(0, o.code(), o.err());
    JsonNode doc = new ObjectMapper().readTree(o.out());
    assertEquals(1, doc.get("seed").asLong());
    JsonNode rows = doc.get("c").get("rows");
    assertEquals(3, rows.size());
    int precEasy = rows.get(0).get("preconditionedSteps").asInt();
    int precHard = rows.get(2).get("preconditionedSteps").asInt();
    int plainEasy = rows.get(0).get("plainSteps").asInt();
    int plainHard = rows.get(2).get("plainSteps").asInt();
    assertTrue(precEasy > 0 && precHard <= 2 * precEasy, precEasy + " -> " + precHard);
    assertTrue(plainEasy > 0 && plainHard >= 5 * plainEasy, plainEasy + " -> " + plainHard);
  }

  @Test
  void tablePrintsPassLinesForTheClaims() {
    Outcome o = loraone("theory", "--experiment", "b");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("PASS  LoRA-One + preconditioned GD reaches risk <= 1e-20 within 100 steps"), o.out());
    assertTrue(o.out().contains("PASS  LoRA-GA-style init stalls above risk 1e-03"), o.out());
    assertFalse(o.out().contains("FAIL"), o.out());
  }

  @Test
  void failingClaimGivesExitCodeOne() {
    // 5 steps are too few for LoRA-One to reach 1e-20
    Outcome o = loraone("theory", "--experiment", "b", "--steps-b", "5");
    assertEquals(1, o.code(), o.out());
    assertTrue(o.out().contains("FAIL  LoRA-One"), o.out());
  }

  @Test
  void plotWritesANonEmptyPng(@TempDir Path dir) throws Exception {
    Path png = dir.resolve("theory.png");
    Outcome o = loraone("theory", "--steps-a", "60", "--plot", png.toString());
    assertTrue(o.code() == 0 || o.code() == 1, o.err()); // 60 steps of (a) may leave a claim failing
    byte[] bytes = Files.readAllBytes(png);
    assertTrue(bytes.length > 1000, "PNG of " + bytes.length + " bytes");
    assertEquals((byte) 0x89, bytes[0]);
    assertEquals("PNG", new String(bytes, 1, 3, java.nio.charset.StandardCharsets.US_ASCII));
  }

  @Test
  void unknownExperimentIsAUsageErrorWithExitCodeTwo() {
    Outcome o = loraone("theory", "--experiment", "d");
    assertEquals(2, o.code());
    assertTrue(o.err().contains("unknown experiment 'd'"), o.err());
  }

  @Test
  void negativeSeedIsRejected() {
    Outcome o = loraone("theory", "--seed", "-3");
    assertEquals(2, o.code());
    assertTrue(o.err().contains("--seed must be >= 0"), o.err());
  }

  @Test
  void plotIntoAMissingDirectoryIsRejectedBeforeAnyWork(@TempDir Path dir) {
    Outcome o = loraone("theory", "--plot", dir.resolve("missing/sub/theory.png").toString());
    assertEquals(2, o.code());
    assertTrue(o.err().contains("does not exist"), o.err());
    Outcome notPng = loraone("theory", "--experiment", "b", "--plot", dir.resolve("theory.jpg").toString());
    assertEquals(2, notPng.code());
    assertTrue(notPng.err().contains(".png"), notPng.err());
  }
}
