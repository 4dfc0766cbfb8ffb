package dev.loraone.lab;

import dev.loraone.cli.Main;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code loraone compare} end to end on real MiniLM and WordNet, at a budget of a few seconds per run. */
class CompareCommandTest {
  @TempDir Path dir;

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
  void tinyStudyWritesChartTablesAndRawCurvesForEveryMethodAndSeed() throws Exception {
    Outcome o = loraone("compare", "--methods", "lora,lora-one", "--seeds", "0", "--steps", "2", "--batch", "8",
        "--max-per-class", "3", "--eval-examples", "16", "--eval-every", "1", "--init-batch", "8", "--init-iters", "1",
        "--init-sweep", "8x1,8x2",
        "--subspace-sizes", "8", "--out", dir.toString());
    assertEquals(0, o.code(), o.err());

    JsonNode doc = new ObjectMapper().readTree(dir.resolve("compare.json").toFile());
    JsonNode runs = doc.get("runs");
    assertEquals(2, runs.size(), "2 methods x 1 seed");
    for (JsonNode run : runs) {
      assertEquals(2, run.get("evals").size(), "an eval after each of the 2 steps");
      assertEquals(16, run.get("evalExamples").asInt());
      assertEquals(2, run.get("trainLoss").size());
    }
    assertEquals(1, doc.get("sweepRuns").size(), "8x1 at seed 0 is the main lora-one run, reused; only 8x2 runs");
    assertEquals(2, doc.get("sweep").size());
    JsonNode sub = doc.get("subspaces").get(0);
    assertEquals(8, sub.get("examples").asInt());
    double simU = sub.get("simU").asDouble();
    assertTrue(simU > 0 && simU < 1, "two disjoint 8-example batches agree partly, simU " + simU);

    List<String> md = Files.readAllLines(dir.resolve("compare.md"));
    int header = md.indexOf(CompareTable.RESULTS_HEADER);
    assertTrue(header > 0, "results table present:\n" + String.join("\n", md));
    assertTrue(md.get(header + 1).startsWith("|---|"));
    String[] rows = {md.get(header + 2), md.get(header + 3)};
    assertTrue(rows[0].startsWith("| LoRA (default init) | lora / adamw | 1 |"), rows[0]);
    assertTrue(rows[1].startsWith("| LoRA-One + AdamW | lora-one / adamw | 1 |"), rows[1]);
    for (String row : rows) {
      assertEquals(CompareTable.RESULTS_HEADER.split("\\|").length, row.split("\\|").length, "same column count: " + row);
      assertTrue(row.contains(" ± "), "mean ± spread: " + row);
    }
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| 8x1 | 8 | [0] | ")), "sweep row for 8x1");
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| 8x2 | 16 | [0] | ")), "sweep row for 8x2");
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| 8 | ")), "subspace row for N = 8");

    BufferedImage png = ImageIO.read(dir.resolve("compare.png").toFile());
    assertEquals(1520, png.getWidth());
    assertEquals(500, png.getHeight());
  }

  @Test
  void unknownMethodIsRejectedBeforeAnythingRuns() {
    Outcome o = loraone("compare", "--methods", "lora,dora", "--out", dir.toString());
    assertEquals(2, o.code());
    assertTrue(o.err().contains("dora") && o.err().contains("lora-one-scaled"), o.err());
    assertTrue(!Files.exists(dir.resolve("compare.json")));
  }
}
