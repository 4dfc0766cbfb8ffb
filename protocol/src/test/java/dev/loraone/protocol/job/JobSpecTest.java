package dev.loraone.protocol.job;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobSpecTest {
  @TempDir Path dir;

  private Path write(String text) throws IOException {
    Path f = dir.resolve("job.conf");
    Files.writeString(f, text);
    return f;
  }

  @Test
  void fileValuesOverrideDefaults() throws IOException {
    JobSpec s =
        JobSpec.parseFile(
            write(
                "job {\n  name = demo\n  lora { rank = 16 }\n  init.method = pissa\n  optimizer.lr = 1e-3\n}\n"));
    assertEquals(16, s.getInt("lora.rank"));
    assertEquals("pissa", s.getString("init.method"));
    assertEquals(1e-3, s.getDouble("optimizer.lr"));
    assertEquals(16.0, s.getDouble("lora.alpha"), "default");
    assertNull(s.getString("eval-file"), "unset optional key");
  }

  @Test
  void renderedSpecParsesBackToAnEqualSpec() {
    JobSpec s = JobSpec.of(Map.of("train.steps", 7, "lora.targets", "query,value"));
    JobSpec back = JobSpec.parseString(s.render(), "rendered");
    assertEquals(s, back);
    assertEquals(7, back.getInt("train.steps"));
  }

  @Test
  void aSizeKeyReadsUnitsRendersBytesAndIsLeftOutAtZero() throws IOException {
    JobSpec s = JobSpec.parseFile(write("job {\n  init.memory-budget = 2g\n}\n"));
    assertEquals(2L << 30, s.getBytes("init.memory-budget"));
    JobSpec back = JobSpec.parseString(s.render(), "rendered");
    assertEquals(2L << 30, back.getBytes("init.memory-budget"));
    assertTrue(s.render().contains("2147483648"), s.render());
    JobSpec none = JobSpec.of(Map.of("train.steps", 7));
    assertEquals(0, none.getBytes("init.memory-budget"));
    assertFalse(none.render().contains("memory-budget"), "0 (unbounded) leaves the spec text as before the key");
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
        () -> JobSpec.parseFile(write("job {\n  init.memory-budget = lots\n}\n")));
    assertTrue(e.getMessage().contains("init.memory-budget"), e.getMessage());
  }

  @Test
  void mistypedKeyIsNamedWithLineAndSuggestion() throws IOException {
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
        () -> JobSpec.parseFile(write("job {\n  lora {\n    rnak = 16\n  }\n}\n")));
    assertEquals(1, e.problems().size(), e.getMessage());
    String p = e.problems().get(0);
    assertTrue(
        p.contains("job.conf:3")
            && p.contains("job.lora.rnak")
            && p.contains("did you mean 'job.lora.rank'"),
        p);
  }

  @Test
  void everyProblemIsReportedAtOnce() throws IOException {
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class, () -> JobSpec.parseFile(write(
        "job {\n  train.steps = \"many\"\n  lora.rank = 0\n  init.method = lora-two\n  optimizer.lr = -1\n}\n")));
    String all = e.getMessage();
    assertEquals(4, e.problems().size(), all);
    assertTrue(all.contains("job.conf:2") && all.contains("'job.train.steps' expected an integer"), all);
    assertTrue(
        all.contains("job.conf:3")
            && all.contains("'job.lora.rank' = 0 is out of range: expected in [1, 4096]"),
        all);
    assertTrue(all.contains("job.conf:4") && all.contains("lora-two") && all.contains("lora-one"), all);
    assertTrue(all.contains("job.conf:5") && all.contains("'job.optimizer.lr'"), all);
  }

  @Test
  void crossKeyRulesAreChecked() {
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
        () -> JobSpec.of(Map.of("train.batch", 12, "train.micro-batch", 8)));
    assertTrue(e.getMessage().contains("multiple of 'job.train.micro-batch'"), e.getMessage());
    e = assertThrows(JobSpec.InvalidJobException.class, () -> JobSpec.of(Map.of("init.iters", 8, "init.shards", 3)));
    assertTrue(e.getMessage().contains("'job.init.shards' = 3 must divide"), e.getMessage());
  }

  @Test
  void syntaxErrorsAndMissingBlocksAreClear() throws IOException {
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
        () -> JobSpec.parseFile(write("job { lora { rank = 8 }\n")));
    assertTrue(e.getMessage().contains("job.conf"), e.getMessage());
    e = assertThrows(JobSpec.InvalidJobException.class, () -> JobSpec.parseString("lora.rank = 8", "inline"));
    assertTrue(e.getMessage().contains("top-level 'job"), e.getMessage());
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class, () -> JobSpec.parseFile(dir.resolve("nope.conf")));
    assertTrue(missing.getMessage().contains("nope.conf"), missing.getMessage());
  }

  @Test
  void jobTextMayNotIncludeFilesOrReadTheEnvironment() throws IOException {
    Path secret = Files.writeString(dir.resolve("secret.conf"), "job.model = /secret/folder\n");
    for (String inc :
        new String[] {
          "include \"" + secret + "\"",
          "include file(\"" + secret + "\")",
          "include required(file(\"" + secret + "\"))",
          "include url(\"file://" + secret + "\")",
          "include classpath(\"reference.conf\")"
        }) {
      JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
          () -> JobSpec.parseString(inc + "\njob.name = inc\n", "request body"), inc);
      assertTrue(e.problems().get(0).contains("is not allowed here"), e.getMessage());
    }
    String env = System.getenv().keySet().stream().filter(k -> k.matches("[A-Z_]+")).findFirst().orElseThrow();
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class,
        () -> JobSpec.parseString("job { name = env, model = ${" + env + "} }", "request body"));
    assertTrue(
        e.problems().get(0).contains(env) && e.problems().get(0).contains("never the environment"),
        e.getMessage());
    assertEquals(
        8,
        JobSpec.parseString(
                "job { name = self, lora.rank = 8, init.batch = ${job.lora.rank} }", "request body")
            .getInt("init.batch"),
        "substitutions within the job still resolve");
    assertEquals(
        "/secret/folder",
        JobSpec.parseFile(write("include \"secret.conf\"\njob.name = file\n")).getString("model"),
        "a job file may include its neighbours");
  }

  @Test
  void taskAndEvalFileAreShorthandsForTaskTrainAndTaskEval() throws IOException {
    JobSpec old = JobSpec.parseString("job { task = \"t.jsonl\", eval-file = \"e.jsonl\" }", "inline");
    JobSpec now =
        JobSpec.parseString(
            "job.task { type = causal-lm, train = \"t.jsonl\", eval = \"e.jsonl\" }", "inline");
    assertEquals("t.jsonl", old.getString("task.train"));
    assertEquals("e.jsonl", old.getString("task.eval"));
    assertEquals("t.jsonl", old.getString("task"), "a shorthand reads its key");
    assertEquals("auto", old.getString("task.type"));
    assertEquals("causal-lm", now.getString("task.type"));
    assertEquals(old.render().replace("\"type\" : \"auto\"", "\"type\" : \"causal-lm\""), now.render(),
        "both forms render as task.*");
    assertEquals(now.render(), JobSpec.parseString(now.render(), "rendered").render());
    JobSpec.InvalidJobException e = assertThrows(JobSpec.InvalidJobException.class, () -> JobSpec.parseFile(
        write("job {\n  eval-file = a.jsonl\n  task.eval = b.jsonl\n}\n")));
    assertTrue(e.getMessage().contains("job.conf:2") && e.getMessage().contains("'job.eval-file' and 'job.task.eval'"),
        e.getMessage());
    e =
        assertThrows(
            JobSpec.InvalidJobException.class,
            () -> JobSpec.parseString("job.task.type = regression", "inline"));
    assertTrue(e.getMessage().contains("'job.task.type'") && e.getMessage().contains("causal-lm"), e.getMessage());
  }

  /** A checkpoint's identity ignores how a job runs (memory, cadence, waiting) and not what it computes. */
  @Test
  void theIdentityOfAJobLeavesOutKeysThatChangeNoBitOfItsResult() throws IOException {
    JobSpec base = JobSpec.parseString("job { lora.rank = 4 }", "inline");
    JobSpec runsOtherwise = JobSpec.parseString("job { lora.rank = 4, init.memory-budget = 2g, checkpoint.every = 3,"
        + " train.activation-checkpointing = true, eval.every = 7, workers.min = 2, export.onnx = false }", "inline");
    assertEquals(base.renderIdentity(), runsOtherwise.renderIdentity());
    assertTrue(!base.render().equals(runsOtherwise.render()), "the spec text still carries them to the workers");
    assertTrue(!base.renderIdentity().equals(JobSpec.parseString("job { lora.rank = 8 }", "inline").renderIdentity()));
    assertTrue(JobKeys.ALL.keySet().containsAll(JobKeys.SAME_RESULT), "every such key is a job key");
  }
}
