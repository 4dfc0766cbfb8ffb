package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input against one running {@code loraone serve} (its own JVM, real MiniLM jobs): every bad
 * job text, job setting, data file, request and path gets an error that names what is wrong, and
 * the service stays up ({@code GET /health} after each test, a valid job succeeds at the end).
 * The token rules are {@link ServiceTokenIT}'s.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServiceBadInputIT {
  @TempDir static Path dir;
  static ServiceProcess service;
  /** Room for a 100,000-deep body, which must reach the job parser (400), not the size limit (413). */
  static final long MAX_BODY = 256 * 1024;
  static final Duration JOB = Duration.ofMinutes(3);
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    service = ServiceProcess.start(dir, dir.resolve("data"), ServiceProcess.freePort(),
        List.of("--workers", "1", "--max-concurrent", "2", "--max-body", Long.toString(MAX_BODY)));
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) service.close();
  }

  @AfterEach
  void serviceIsStillUp() throws Exception {
    assertTrue(service.alive(), () -> "the service died: " + service.describe());
    ServiceProcess.Response h = service.get("/health");
    assertEquals(200, h.status(), () -> "GET /health: " + h.body() + "\n" + service.describe());
  }

  /** A tiny job named {@code name} with {@code extra} lines of HOCON merged over it. */
  static String job(String name, String extra) {
    return ServiceProcess.tinyJob(name, 2, false) + extra + "\n";
  }

  /** POSTs a job that the API accepts (201) and waits for its end. */
  static JsonNode runToEnd(String body) throws Exception {
    ServiceProcess.Response r = service.post("/jobs", body);
    assertEquals(201, r.status(), () -> "POST /jobs: " + r.body());
    return service.awaitEnd(r.body().path("id").asText(), JOB);
  }

  static JsonNode failed(String body) throws Exception {
    JsonNode end = runToEnd(body);
    assertEquals("FAILED", end.path("state").asText(), () -> "the job should fail: " + end);
    return end;
  }

  static String problems(ServiceProcess.Response r) {
    return r.body().path("problems").toString();
  }

  @Test
  @Order(1)
  void aHoconSyntaxErrorIs400NamingTheLine() throws Exception {
    ServiceProcess.Response r =
        service.post(
            "/jobs", "job {\n  name = broken\n  train { steps = 2 }\n  lora.rank = = 4\n}\n");
    assertEquals(400, r.status(), r.body()::toString);
    assertEquals(1, r.body().path("problems").size(), r.body()::toString);
    String p = r.body().path("problems").get(0).asText();
    assertTrue(
        p.startsWith("request body: 4:") && p.contains("'='"),
        () -> "the problem names line 4 and the token: " + p);
  }

  @Test
  @Order(2)
  void anUnknownKeyIs400WithASuggestion() throws Exception {
    ServiceProcess.Response r = service.post("/jobs", "job {\n  name = typo\n  lora.rnak = 4\n}\n");
    assertEquals(400, r.status(), r.body()::toString);
    assertTrue(
        problems(r)
            .contains(
                "request body: 3: unknown key 'job.lora.rnak' (did you mean 'job.lora.rank'?)"),
        () -> problems(r));
    ServiceProcess.Response far = service.post("/jobs", "job {\n  name = typo\n  frobnicate = 4\n}\n");
    assertEquals(400, far.status(), far.body()::toString);
    assertTrue(
        problems(far).contains("unknown key 'job.frobnicate'")
            && problems(far).contains("known keys"),
        () -> problems(far));
  }

  @Test
  @Order(3)
  void jobTextMayNotReadTheServicesFilesOrEnvironment() throws Exception {
    Path local = Files.writeString(dir.resolve("local.conf"), "job.model = /from/the/service/disk\n");
    for (String inc :
        List.of(
            "include \"" + local + "\"",
            "include file(\"" + local + "\")",
            "include url(\"file://" + local + "\")")) {
      ServiceProcess.Response r = service.post("/jobs", inc + "\n" + job("inc", ""));
      assertEquals(400, r.status(), () -> inc + ": " + r.body());
      assertTrue(problems(r).contains("is not allowed here"), () -> problems(r));
    }
    ServiceProcess.Response env = service.post("/jobs", job("env", "job.model = ${HOME}"));
    assertEquals(400, env.status(), env.body()::toString);
    assertTrue(
        problems(env).contains("${HOME}") && problems(env).contains("never the environment"),
        () -> problems(env));
    ServiceProcess.Response missing = service.post("/jobs", job("subst", "job.init.batch = ${job.no.such.key}"));
    assertEquals(400, missing.status(), () -> "an unresolvable substitution: " + missing.body());
    assertTrue(problems(missing).contains("${job.no.such.key}"), () -> problems(missing));
  }

  @Test
  @Order(4)
  void aRankLargerThanTheLayersFailsTheJobNamingRankAndLayerSize() throws Exception {
    String reason = failed(job("bigrank", "job.lora.rank = 4096")).path("reason").asText();
    assertTrue(reason.contains("4096") && reason.contains("lora.rank") && reason.contains("384 x 384")
        && reason.contains("encoder.layer.0.attention.self.query"), reason);
  }

  @Test
  @Order(5)
  void anUnknownModelFolderIs400NamingIt() throws Exception {
    Path missing = dir.resolve("nonexistent-folder");
    String p = rejected(job("nomodel", "job.model = \"" + missing + "\""));
    assertTrue(p.contains("'job.model' = \"" + missing + "\": no such folder"), p);
  }

  @Test
  @Order(6)
  void anUnknownTargetModuleFailsTheJobNamingItAndTheRealOnes() throws Exception {
    String reason = failed(job("notarget", "job.lora.targets = \"nosuchmodule\"")).path("reason").asText();
    assertTrue(reason.contains("'nosuchmodule'") && reason.contains("lora.targets"), reason);
    assertTrue(
        reason.contains("attention.self.query") && reason.contains("intermediate.dense"),
        () -> "lists MiniLM's modules: " + reason);
  }

  @Test
  @Order(7)
  void anEmptyDatasetFailsTheJobNamingTheFile() throws Exception {
    Path empty = Files.createFile(dir.resolve("empty.jsonl"));
    String reason = failed(job("emptydata", "job.task = \"" + empty + "\"")).path("reason").asText();
    assertTrue(reason.contains(empty.toString()) && reason.contains("no training examples"), reason);
  }

  @Test
  @Order(8)
  void invalidUtf8InADataFileFailsTheJobNamingFileAndLine() throws Exception {
    Path bad = dir.resolve("bad-utf8.jsonl");
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    b.writeBytes(
        "{\"text\":\"a cat\",\"label\":\"animal\"}\n{\"text\":\"a dog\",\"label\":\"animal\"}\n"
            .getBytes(StandardCharsets.UTF_8));
    b.writeBytes("{\"text\":\"a ".getBytes(StandardCharsets.UTF_8));
    b.write(0xC3);
    b.write(0x28);
    b.writeBytes(
        " car\",\"label\":\"thing\"}\n{\"text\":\"a bus\",\"label\":\"thing\"}\n"
            .getBytes(StandardCharsets.UTF_8));
    Files.write(bad, b.toByteArray());
    String reason = failed(job("badutf8", "job.task = \"" + bad + "\"")).path("reason").asText();
    assertTrue(reason.contains(bad + ":3:") && reason.contains("UTF-8") && reason.contains("0xC3"), reason);
  }

  @Test
  @Order(9)
  void anEvalFileWithTheBuiltInTaskIs400InsteadOfBeingIgnored() throws Exception {
    String p = rejected(job("evalfile", "job.eval-file = \"" + dir.resolve("eval.jsonl") + "\""));
    assertTrue(
        p.contains("'job.task.eval'")
            && p.contains(dir.resolve("eval.jsonl").toString())
            && p.contains("wordnet-supersense"),
        p);
    p = rejected(job("noeval", "job.task.eval = \"" + dir.resolve("missing-eval.jsonl") + "\"\njob.task.train = \""
        + dir.resolve("eval.jsonl") + "\""));
    assertTrue(p.contains("'job.task.eval'") && p.contains("no such file"), p);
    p = rejected(job("tasktype", "job.task.type = causal-lm"));
    assertTrue(p.contains("'job.task.type' = causal-lm") && p.contains("'job.model' = minilm"), p);
  }

  @Test
  @Order(10)
  void aBodyOverMaxBodyIs413() throws Exception {
    String body = job("huge", "# " + "x".repeat((int) MAX_BODY));
    ServiceProcess.Response r = service.post("/jobs", body);
    assertEquals(413, r.status(), r.body()::toString);
    assertTrue(
        r.body().path("error").asText().contains(Long.toString(MAX_BODY))
            && r.body().path("error").asText().contains("--max-body"),
        r.body()::toString);
    ServiceProcess.Response fits =
        service.post(
            "/jobs", "job { name = fits, lora.rnak = 1 }\n# " + "x".repeat((int) MAX_BODY / 2));
    assertEquals(400, fits.status(), () -> "a body within the limit is parsed: " + fits.body());
  }

  @Test
  @Order(11)
  void artefactPathsNeverLeaveTheJobFolder() throws Exception {
    ServiceProcess.Response r =
        service.post("/jobs", job("paths", "job.workers.min = 64\njob.workers.wait-seconds = 0"));
    assertEquals(201, r.status(), r.body()::toString);
    String id = r.body().path("id").asText();
    Path jobJson = dir.resolve("data").resolve("jobs").resolve(id).resolve("job.json");
    assertTrue(Files.isRegularFile(jobJson), jobJson::toString);
    String secret = Files.readString(jobJson);
    List<String> attempts =
        List.of(
            "..%2F..%2Fjob.json",
            "..%2Fjob.json",
            "checkpoint%2F..%2F..%2Fjob.json",
            "..%2F..%2F..%2F..%2Fjobs%2F" + id + "%2Fjob.json",
            "%2E%2E%2F%2E%2E%2Fjob.json",
            "%252E%252E%252Fjob.json",
            "..%5C..%5Cjob.json",
            URLish(jobJson.toString()),
            "%2F%2F" + URLish(jobJson.toString()).substring(3),
            "%2Fetc%2Fpasswd",
            "%00",
            "job.json%00",
            "..%2F..%2Fjob.json%00.txt",
            "checkpoint%2Fcheckpoint.json%00");
    for (String a : attempts) {
      ServiceProcess.Text t = service.getText("/jobs/" + id + "/artifacts/" + a);
      assertTrue(t.status() == 400 || t.status() == 404, () -> a + ": " + t.status() + " " + t.body());
      assertFalse(
          t.body().contains("\"seq\"") || t.body().contains("root:"),
          () -> a + " served a file outside the job's out/: " + t.body());
      assertTrue(t.body().startsWith("{\"error\""), () -> a + ": a JSON error, got " + t.body());
    }
    assertTrue(secret.contains("\"seq\""), secret);
    service.post("/jobs/" + id + "/cancel", "");
  }

  /** {@code /a/b} as {@code %2Fa%2Fb}. */
  private static String URLish(String absolute) {
    return absolute.replace("/", "%2F");
  }

  @Test
  @Order(12)
  void invalidJobIdsAre400() throws Exception {
    for (String bad :
        List.of(
            "-abc",
            ".hidden",
            "a%2Fb",
            "a%00b",
            "x$y",
            "abc%0Adef",
            "a".repeat(101),
            "%2E%2E%2Fetc")) {
      for (String path : List.of("/jobs/" + bad, "/jobs/" + bad + "/events", "/jobs/" + bad + "/artifacts/adapter")) {
        ServiceProcess.Response r = service.get(path);
        assertEquals(400, r.status(), () -> "GET " + path + ": " + r.body());
        assertTrue(r.body().path("error").asText().startsWith("invalid job id"), () -> path + ": " + r.body());
      }
      ServiceProcess.Response c = service.post("/jobs/" + bad + "/cancel", "");
      assertEquals(400, c.status(), () -> "POST /jobs/" + bad + "/cancel: " + c.body());
    }
    ServiceProcess.Response none = service.get("/jobs/nosuchjob-999");
    assertEquals(404, none.status(), none.body()::toString);
  }

  /**
   * Scaled GD at lr 10 with alpha 1e6 (no rsLoRA) on every Linear and no clipping: step 1 is
   * finite, step 2's loss is NaN (found by a sweep; the run is deterministic, so it always is).
   */
  @Test
  @Order(13)
  void aDivergingJobFailsNamingTheStepAndKeepsItsLastGoodCheckpoint() throws Exception {
    String diverging = job("diverge", """
        job {
          lora { targets = all-linear, alpha = 1e6, rslora = false }
          optimizer { name = scaled-gd, lr = 10, warmup = 0, schedule = constant, max-grad-norm = 1e300 }
          train.steps = 8
          checkpoint.every = 1
        }""");
    JsonNode end = failed(diverging);
    String reason = end.path("reason").asText();
    Matcher m = Pattern.compile("step (\\d+): loss is (NaN|Infinity|-Infinity)").matcher(reason);
    assertTrue(m.find(), () -> "the reason says the loss is not finite and at which step: " + reason);
    int failedAt = Integer.parseInt(m.group(1));
    String id = end.path("id").asText();

    ServiceProcess.Text c = service.getText("/jobs/" + id + "/artifacts/checkpoint/checkpoint.json");
    assertEquals(200, c.status(), c::body);
    JsonNode cp = JSON.readTree(c.body());
    int saved = cp.path("step").asInt(-1);
    assertTrue(
        saved >= 0 && saved < failedAt,
        () -> "checkpoint step " + saved + " is before the failing step " + failedAt);
    assertEquals(failedAt - 1, saved, "checkpoint.every = 1: the last good step is checkpointed");
    assertEquals(saved, end.path("checkpointStep").asInt(), "GET /jobs/{id}.checkpointStep");
    Path tensors =
        dir.resolve("data")
            .resolve("jobs")
            .resolve(id)
            .resolve("out")
            .resolve("checkpoint")
            .resolve(cp.path("tensors").asText());
    assertEquals(
        cp.path("tensorsSha256").asText(),
        sha256(tensors),
        "the checkpoint's tensors are the ones its JSON names");
    Map<String, TensorBlob> t = SafeTensors.read(tensors).tensors();
    assertFalse(t.isEmpty(), tensors::toString);
    for (Map.Entry<String, TensorBlob> e : t.entrySet()) {
      for (float v : e.getValue().toFloats())
        assertTrue(Float.isFinite(v), () -> "checkpoint tensor " + e.getKey() + " holds " + v);
    }
    System.out.println("[ServiceBadInputIT] diverging job: " + reason + "; last checkpoint step " + saved);
  }

  /** 8 KB of nested objects once threw StackOverflowError in the job parser, and Pekko exited the service's JVM. */
  @Test
  @Order(20)
  void deeplyNestedOrSelfReferencingJobTextIs400AndTheServiceAnswersOn() throws Exception {
    String objects = "{\"job\":".repeat(1_000) + "{}" + "}".repeat(1_000);
    String arrays = "{\"job\": {\"x\": " + "[".repeat(100_000) + "]".repeat(100_000) + "}}";
    for (String body : List.of(objects, arrays)) {
      ServiceProcess.Response r = service.post("/jobs", body);
      assertEquals(400, r.status(), r.body()::toString);
      assertTrue(problems(r).contains("request body: line 1: nesting deeper than 32 levels"), () -> problems(r));
      assertEquals(200, service.get("/jobs").status(), "the service still answers");
    }
    ServiceProcess.Response r = service.post("/jobs", job("selfref", "job.x = [1]\n" + "job.x += 1\n".repeat(1_000)));
    assertEquals(400, r.status(), r.body()::toString);
    assertTrue(problems(r).contains("more than 64 substitutions"), () -> problems(r));
  }

  @Test
  @Order(100)
  void aValidJobStillSucceedsAfterAllThat() throws Exception {
    JsonNode end = runToEnd(job("valid", ""));
    assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + service.describe());
    assertTrue(end.path("adapterSha256").asText().matches("[0-9a-f]{64}"), end::toString);
    List<String> states = new ArrayList<>();
    for (JsonNode j : service.get("/jobs").body()) states.add(j.path("name").asText() + "=" + j.path("state").asText());
    System.out.println("[ServiceBadInputIT] jobs: " + states);
  }

  static String sha256(Path f) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(f)) {
      in.transferTo(new java.security.DigestOutputStream(java.io.OutputStream.nullOutputStream(), md));
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }

  /** POSTs a job the API must refuse: 400 with problems and no job of its name; returns the problems, one a line. */
  static String rejected(String body) throws Exception {
    ServiceProcess.Response r = service.post("/jobs", body);
    assertEquals(400, r.status(), r.body()::toString);
    assertEquals("invalid job", r.body().path("error").asText(), r.body()::toString);
    List<String> problems = new ArrayList<>();
    r.body().path("problems").forEach(p -> problems.add(p.asText()));
    assertFalse(problems.isEmpty(), r.body()::toString);
    Matcher named = Pattern.compile("name = (\\S+)").matcher(body);
    String name = named.find() ? named.group(1) : "";
    for (JsonNode j : service.get("/jobs").body()) {
      assertNotEquals(name, j.path("name").asText(), "no job was queued: " + body);
    }
    return String.join("\n", problems);
  }

  @Test
  @Order(16)
  void aModelOrTaskNoWorkerCouldOpenIs400NamingTheKeyAndWhatIsExpected() throws Exception {
    Path gpt2 = Files.createDirectories(dir.resolve("gpt2"));
    Files.writeString(gpt2.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
    String p = rejected(job("gpt2", "job.model = \"" + gpt2 + "\""));
    assertTrue(p.startsWith("request body: ") && p.contains("'model_type' is \"gpt2\"")
        && p.contains("'job.model' supports model_type [bert, llama, mistral, qwen2]"), p);

    Path noConfig = Files.createDirectories(dir.resolve("no-config"));
    p = rejected(job("noconfig", "job.model = \"" + noConfig + "\""));
    assertTrue(p.contains("'job.model'") && p.contains("no config.json") && p.contains("minilm, bge-small"), p);

    Path noTask = dir.resolve("no-such-task.jsonl");
    p = rejected(job("notask", "job.task = \"" + noTask + "\""));
    assertTrue(p.contains("'job.task' = \"" + noTask + "\": no such file") && p.contains("wordnet-supersense")
        && p.contains("{text, label}"), p);

    p = rejected(job("both", "job.model = \"" + dir.resolve("nonexistent-folder") + "\"\njob.task = \"" + noTask
        + "\""));
    assertTrue(p.contains("'job.model'") && p.contains("'job.task'"), "every problem at once: " + p);

    Path llama = tinyLlama();
    p = rejected(job("llamawordnet", "job.model = \"" + llama + "\""));
    assertTrue(p.contains("'job.task' = \"wordnet-supersense\"") && p.contains("{prompt, completion}"), p);
    p = rejected(job("llamanotask", "job.model = \"" + llama + "\"\njob.task = \"" + noTask + "\""));
    assertTrue(p.contains("'job.task'") && p.contains("no such file") && p.contains("{prompt, completion}"), p);
  }

  @Test
  @Order(17)
  void builtInModelNamesAndALlamaFolderWithItsTaskFileAreAccepted() throws Exception {
    Path task = Files.writeString(dir.resolve("pairs.jsonl"), "{\"prompt\": \"w3 w4\", \"completion\": \"w10 w11\"}\n");
    for (String model : List.of("minilm", "bge-small", tinyLlama().toString())) {
      String extra = "job.model = \"" + model + "\"\njob.workers.min = 64\njob.workers.wait-seconds = 0"
          + (model.contains("llama") ? "\njob.task = \"" + task + "\"" : "");
      ServiceProcess.Response r = service.post("/jobs", job("accepted", extra));
      assertEquals(201, r.status(), () -> model + ": " + r.body());
      service.post("/jobs/" + r.body().path("id").asText() + "/cancel", ""); // queued for 64 workers: never runs
    }
  }

  @Test
  @Order(18)
  void loraoneSubmitPrintsTheProblemAndExitsNonZero() throws Exception {
    Path file = Files.writeString(dir.resolve("bad-model.conf"), job("climodel", "job.model = /nonexistent/folder"));
    List<String> cmd = ServiceProcess.java(List.of(), List.of("submit", "--server", service.url, file.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "it exits");
    assertNotEquals(0, p.exitValue(), out);
    assertTrue(out.contains("400") && out.contains(file + ": 'job.model' = \"/nonexistent/folder\" is outside the"
        + " service's roots; expected a path under --model-root " + dir.toAbsolutePath().normalize()), out);
  }


  /** A tiny random Llama checkpoint (config.json model_type llama, weights, tokenizer), written once. */
  static synchronized Path tinyLlama() throws IOException {
    Path d = dir.resolve("tiny-llama");
    if (!Files.isRegularFile(d.resolve("config.json"))) {
      LlamaFixture.Spec s = LlamaFixture.Spec.tiny(false);
      LlamaFixture.write(d, s, 41, DType.F32, false);
      LlamaFixture.writeTokenizer(d, s);
    }
    return d;
  }
}
