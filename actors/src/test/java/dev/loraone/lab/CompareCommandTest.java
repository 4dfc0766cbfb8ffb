package dev.loraone.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.cli.Main;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code loraone compare} end to end in this process: a tiny random Llama on a prompt/completion file
 * (causal LM, perplexity, lower is better) and real MiniLM on WordNet (classification, accuracy), at
 * a budget of a few seconds per run.
 */
class CompareCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  record Outcome(int code, String out, String err) {}

  static Outcome loraone(String... args) {
    CommandLine cl = Main.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Outcome(code, out.toString(), err.toString());
  }

  /**
   * A tiny random Llama checkpoint (tied bf16 embeddings, 2 layers), 40 prompt/completion pairs and a
   * 6-step job on them in {@code dir}; returns the job file. Paths are absolute, so a service reads them too.
   */
  static Path tinyLlamaJob(Path dir) throws IOException {
    LlamaFixture.Spec s = LlamaFixture.Spec.tiny(true);
    Path model = dir.resolve("tiny-llama");
    LlamaFixture.write(model, s, 43, DType.BF16, false);
    LlamaFixture.writeTokenizer(model, s);
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder prompt = new StringBuilder();
      for (int w = 0, n = 2 + r.nextInt(4); w < n; w++) {
        prompt.append(w > 0 ? " " : "").append("w").append(3 + r.nextInt(47));
      }
      String completion = "w10 w11" + " w12".repeat(1 + i % 3);
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt.toString(), "completion", completion)));
    }
    Files.write(dir.resolve("task.jsonl"), lines);
    Path job = dir.resolve("tiny-llama.conf");
    Files.writeString(job, """
        job {
          name = tiny-llama
          model = "%s"
          task = "%s"
          lora { rank = 2, alpha = 4 }
          init { batch = 4, iters = 2, shards = 2 }
          optimizer { lr = 1e-2, warmup = 1 }
          train { steps = 6, batch = 4, micro-batch = 2, max-length = 16 }
          eval.examples = 8
        }
        """.formatted(model, dir.resolve("task.jsonl")));
    return job;
  }

  @Test
  void causalLmStudyPairsPerplexityBySeedAndMeasuresStepsToLorasLoss() throws Exception {
    Path job = tinyLlamaJob(dir);
    Outcome o = loraone("compare", "--job", job.toString(), "--methods", "lora,lora-one", "--seeds", "0,1",
        "--out", dir.resolve("report").toString(), "--runs-dir", dir.resolve("runs").toString());
    assertEquals(0, o.code(), o.err());

    JsonNode doc = JSON.readTree(dir.resolve("report").resolve("compare.json").toFile());
    assertEquals("perplexity", doc.get("headline").asText());
    assertEquals(1, doc.get("settings").get("evalEvery").asInt(), "6 steps: an evaluation after every step");
    JsonNode runs = doc.get("runs");
    assertEquals(4, runs.size(), "2 methods x 2 seeds");
    List<String> shas = new ArrayList<>();
    for (JsonNode run : runs) {
      assertTrue(run.get("failure").isNull(), run::toString);
      assertEquals(6, run.get("evals").size(), run::toString);
      JsonNode last = run.get("evals").get(5);
      assertEquals(6, last.get("step").asInt());
      assertEquals(Math.exp(last.get("loss").asDouble()), last.get("metrics").get("perplexity").asDouble(), 1e-9);
      assertEquals(6, run.get("trainLoss").size());
      assertTrue(Files.isRegularFile(dir.resolve("runs").resolve(run.get("job").asText()).resolve("adapter")
          .resolve("adapter_model.safetensors")), "the run's adapter is kept");
      shas.add(run.get("adapterSha256").asText());
    }
    assertEquals(4, shas.stream().distinct().count(), "every method and seed trains its own adapter: " + shas);

    JsonNode paired = doc.get("paired").get(0);
    assertEquals("lora-one", paired.get("method").asText());
    double[] diffs = new double[2];
    for (int seed = 0; seed < 2; seed++) {
      diffs[seed] = finalPerplexity(runs, "lora-one", seed) - finalPerplexity(runs, "lora", seed);
      assertEquals(diffs[seed], paired.get("diffs").get(seed).asDouble(), 1e-12);
    }
    int wins = (diffs[0] < 0 ? 1 : 0) + (diffs[1] < 0 ? 1 : 0);
    assertEquals(wins, paired.get("wins").asInt(), "a win is a lower perplexity");
    assertEquals((diffs[0] + diffs[1]) / 2, paired.get("diff").get("mean").asDouble(), 1e-12);
    JsonNode speed = doc.get("speed");
    assertEquals(2, speed.size());
    int loraStep = speed.get(0).get("step").asInt();
    assertTrue(loraStep >= 1 && loraStep <= 6, "LoRA reaches its own final loss by its last step: " + speed);

    List<String> md = Files.readAllLines(dir.resolve("report").resolve("compare.md"));
    String header = md.stream().filter(l -> l.startsWith("| method | job keys |")).findFirst().orElseThrow();
    assertTrue(header.startsWith("| method | job keys | seeds | final perplexity | final eval loss"
        + " | final exact_match |"), header);
    int at = md.indexOf(header);
    for (String row : md.subList(at + 2, at + 4)) {
      assertEquals(header.split("\\|").length, row.split("\\|").length, "same column count: " + row);
      assertTrue(row.contains(" ± "), "mean ± spread: " + row);
    }
    assertTrue(md.get(at + 3).startsWith("| LoRA-One + AdamW | init.method = lora-one, optimizer.name = adamw | 2 |"),
        md.get(at + 3));
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| LoRA-One + AdamW | [0, 1] | ")), "paired row");
    assertTrue(md.contains(CompareTable.SPEED_HEADER), "speed table");
    assertTrue(o.out().contains("LoRA-One + AdamW"), o.out());

    BufferedImage png = ImageIO.read(dir.resolve("report").resolve("compare.png").toFile());
    assertEquals(1520, png.getWidth());
    assertEquals(500, png.getHeight());
  }

  private static double finalPerplexity(JsonNode runs, String method, int seed) {
    for (JsonNode r : runs) {
      if (r.get("method").asText().equals(method) && r.get("seed").asInt() == seed) {
        JsonNode evals = r.get("evals");
        return evals.get(evals.size() - 1).get("metrics").get("perplexity").asDouble();
      }
    }
    throw new AssertionError(method + " seed " + seed + " missing");
  }

  @Test
  void builtInWordNetJobWithSetKeysComparesAccuracyWithHeadOnlyAndInitAgreement() throws Exception {
    Outcome o = loraone("compare", "--set", "train.steps=2", "--set", "train.batch=8", "--set", "data.max-per-class=3",
        "--set", "eval.examples=16", "--set", "init.iters=1", "--set", "init.shards=1", "--methods", "lora,head-only",
        "--seeds", "0", "--subspace-sizes", "8", "--out", dir.toString(), "--runs-dir", dir.resolve("runs").toString());
    assertEquals(0, o.code(), o.err());
    JsonNode doc = JSON.readTree(dir.resolve("compare.json").toFile());
    assertEquals("accuracy", doc.get("headline").asText());
    assertEquals(2, doc.get("runs").size());
    for (JsonNode run : doc.get("runs")) {
      assertEquals(
          3,
          run.get("evals").size(),
          "zero-shot (the default labels head) and eval.every 1 over 2 steps: " + run);
      assertEquals(0, run.get("evals").get(0).get("step").asInt(), run::toString);
      assertEquals(16, run.get("evalExamples").asInt());
      double acc = run.get("evals").get(2).get("metrics").get("accuracy").asDouble();
      assertTrue(acc >= 0 && acc <= 1, run::toString);
    }
    assertNotEquals(doc.get("runs").get(0).get("adapterSha256"), doc.get("runs").get(1).get("adapterSha256"));
    JsonNode paired = doc.get("paired").get(0);
    assertEquals("head-only", paired.get("method").asText());
    assertTrue(paired.get("t").isNull() || paired.get("t").asText().equals("NaN"), "one seed, no t: " + paired);
    double simU = doc.get("subspaces").get(0).get("simU").asDouble();
    assertTrue(simU > 0 && simU < 1, "two disjoint 8-example batches agree partly, simU " + simU);
    List<String> md = Files.readAllLines(dir.resolve("compare.md"));
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| method | job keys | seeds | final accuracy | final eval loss |"
        + " wall time per run |")), String.join("\n", md));
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| head only (lora.targets = none) | ")));
    assertTrue(md.stream().anyMatch(l -> l.startsWith("| 8 | ")), "subspace row for N = 8");
  }

  @Test
  void unknownMethodIsRejectedBeforeAnythingRuns() {
    Outcome o = loraone("compare", "--methods", "lora,dora", "--out", dir.toString());
    assertEquals(2, o.code());
    assertTrue(o.err().contains("dora") && o.err().contains("lora-one-scaled"), o.err());
    assertFalse(Files.exists(dir.resolve("compare.json")));
  }

  @Test
  void headOnlyOnACausalLmJobAndUnknownKeysAreRejectedBeforeAnythingRuns() throws Exception {
    Path job = tinyLlamaJob(dir);
    Outcome o = loraone("compare", "--job", job.toString(), "--methods", "lora,head-only", "--out", dir.toString());
    assertEquals(2, o.code());
    assertTrue(o.err().contains("head-only") && o.err().contains("causal-lm"), o.err());
    Outcome bad = loraone("compare", "--job", job.toString(), "--set", "lora.rnak=4", "--out", dir.toString());
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("lora.rank"), "suggests the key: " + bad.err());
    assertFalse(Files.exists(dir.resolve("compare.json")));
  }
}
