package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No shared file system: a dataset uploaded over HTTP ({@code loraone submit} uploads the job's local
 * file and names it {@code dataset:<sha>}) trains on a worker node started in another working
 * directory, which fetches it from the service into its own cache; the adapter is bit-identical to
 * the single-process run on the original file. Plus what an upload refuses (a bad line, too many
 * bytes) and what a job naming an unknown dataset gets.
 */
class DatasetUploadIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final long MAX_UPLOAD = 16 * 1024;
  @TempDir static Path dir;
  static ServiceProcess service;

  @BeforeAll
  static void start() throws Exception {
    service = ServiceProcess.start(dir, dir.resolve("service-data"), ServiceProcess.freePort(),
        List.of("--workers", "0", "--max-upload", Long.toString(MAX_UPLOAD)));
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) service.close();
  }

  /** 8 short texts for each of 3 labels. */
  static String dataset() {
    StringBuilder b = new StringBuilder();
    String[][] words = {{"cat", "dog", "horse", "cow", "sheep", "goat", "mouse", "bird"},
        {"red", "blue", "green", "pink", "black", "white", "grey", "brown"},
        {"run", "walk", "jump", "swim", "climb", "crawl", "fly", "skip"}};
    String[] labels = {"animal", "colour", "motion"};
    for (int i = 0; i < 8; i++) {
      for (int l = 0; l < 3; l++) {
        b.append("{\"text\": \"the word ").append(words[l][i]).append("\", \"label\": \"").append(labels[l])
            .append("\"}\n");
      }
    }
    return b.toString();
  }

  static String job(String name, String task) {
    return ServiceProcess.tinyJob(name, 4, false).replace("job {", "job {\n  task = \"" + task + "\"\n  seed = 3");
  }

  static ServiceProcess.Response upload(String query, String body) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(service.url + "/datasets" + query))
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new ServiceProcess.Response(r.statusCode(), JSON.readTree(r.body()));
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  @Test
  void anUploadIsCheckedLineByLineLimitedInSizeAndStoredOnceByItsHash() throws Exception {
    String good = "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}\n";
    ServiceProcess.Response first = upload("?format=jsonl", good);
    assertEquals(201, first.status(), first.body()::toString);
    assertEquals(sha256(good.getBytes(StandardCharsets.UTF_8)), first.body().path("id").asText());
    assertEquals(2, first.body().path("rows").asInt(), first.body()::toString);
    assertEquals(good.length(), first.body().path("bytes").asInt(), first.body()::toString);
    ServiceProcess.Response again = upload("?name=again.jsonl", good);
    assertEquals(200, again.status(), again.body()::toString);
    assertEquals(first.body().path("id"), again.body().path("id"), "the same content keeps its id");
    String id = first.body().path("id").asText();
    try (var files = Files.list(dir.resolve("service-data").resolve("datasets"))) {
      assertEquals(List.of(id + ".json", id + ".jsonl"), files.map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith(id)).sorted().toList(), "stored once");
    }

    HttpResponse<String> tail = HTTP.send(HttpRequest.newBuilder(URI.create(service.url + "/datasets/" + id))
        .header("Range", "bytes=10-").GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(206, tail.statusCode(), "a download resumes with a Range request");
    assertEquals(good.substring(10), tail.body());
    assertEquals("jsonl", tail.headers().firstValue("X-Loraone-Format").orElse(""));

    String bad = good + "{\"text\": \"c\"}\n";
    ServiceProcess.Response refused = upload("?name=train.jsonl", bad);
    assertEquals(400, refused.status(), refused.body()::toString);
    String why = refused.body().path("error").asText();
    assertTrue(why.startsWith("invalid dataset: train.jsonl:3: ") && why.contains("label"), why);

    ServiceProcess.Response big = upload("?format=text", "x".repeat((int) MAX_UPLOAD + 1));
    assertEquals(413, big.status(), big.body()::toString);
    assertTrue(big.body().path("error").asText().contains("--max-upload"), big.body()::toString);
    ServiceProcess.Response unsaid = upload("", good);
    assertEquals(400, unsaid.status(), unsaid.body()::toString);

    JsonNode list = service.get("/datasets").body();
    long listed = 0;
    for (JsonNode d : list) listed += d.path("id").asText().equals(id) && d.path("rows").asInt() == 2 ? 1 : 0;
    assertEquals(1, listed, list::toString);
    try (var incoming = Files.list(dir.resolve("service-data").resolve("datasets").resolve("incoming"))) {
      assertEquals(0, incoming.count(), "refused uploads leave nothing behind");
    }
  }

  @Test
  void aDatasetIsDeletedOnlyOnceNoJobThatHasNotEndedNamesIt() throws Exception {
    String text = "{\"text\": \"kept\", \"label\": \"a\"}\n{\"text\": \"gone\", \"label\": \"b\"}\n";
    ServiceProcess.Response up = upload("?format=jsonl", text);
    assertEquals(201, up.status(), up.body()::toString);
    String sha = up.body().path("id").asText();
    // no worker node: the job stays queued, naming the dataset
    ServiceProcess.Response job = service.post("/jobs", job("deleting", "dataset:" + sha));
    assertEquals(201, job.status(), job.body()::toString);
    String id = job.body().path("id").asText();
    ServiceProcess.Response busy = service.delete("/datasets/" + sha);
    assertEquals(409, busy.status(), busy.body()::toString);
    assertEquals("dataset " + sha + " is named by jobs that have not ended: " + id
        + " (cancel them or wait for them to end)", busy.body().path("error").asText());
    assertEquals(200, service.get("/datasets/" + sha).status(), "a refused delete keeps the dataset");

    assertEquals(202, service.post("/jobs/" + id + "/cancel", "").status());
    assertEquals("CANCELLED", service.awaitEnd(id, Duration.ofMinutes(1)).path("state").asText());
    ServiceProcess.Response gone = service.delete("/datasets/" + sha);
    assertEquals(204, gone.status(), gone.body()::toString);
    assertEquals(404, service.get("/datasets/" + sha).status());
    for (JsonNode d : service.get("/datasets").body()) {
      assertTrue(!d.path("id").asText().equals(sha), "listed after its delete: " + d);
    }
    try (var files = Files.list(dir.resolve("service-data").resolve("datasets"))) {
      assertEquals(List.of(), files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(sha)).toList());
    }
    ServiceProcess.Response again = service.delete("/datasets/" + sha);
    assertEquals(404, again.status(), again.body()::toString);
    ServiceProcess.Response later = service.post("/jobs", job("after-delete", "dataset:" + sha));
    assertEquals(400, later.status(), later.body()::toString);
    assertTrue(later.body().toString().contains("no such dataset on this service"), later.body()::toString);
  }

  @Test
  void aJobNamingAnUnknownDatasetIsRefusedAtSubmission() throws Exception {
    String unknown = "0".repeat(64);
    ServiceProcess.Response r = service.post("/jobs", job("unknown", "dataset:" + unknown));
    assertEquals(400, r.status(), r.body()::toString);
    assertTrue(r.body().path("problems").get(0).asText().contains("'job.task.train' = \"dataset:" + unknown
        + "\": no such dataset on this service"), r.body()::toString);
    ServiceProcess.Response malformed = service.post("/jobs", job("malformed", "dataset:abc"));
    assertEquals(400, malformed.status(), malformed.body()::toString);
    assertTrue(malformed.body().toString().contains("expected dataset:<SHA-256"), malformed.body()::toString);
  }

  @Test
  void anUploadedDatasetTrainsOnAWorkerWithoutSharedPathsAsTheLocalRunDoes() throws Exception {
    Path here = Files.createDirectories(dir.resolve("submitter"));
    Path train = Files.writeString(here.resolve("words.jsonl"), dataset());
    String sha = sha256(Files.readAllBytes(train));
    String expected;
    try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(JobSpec.parseString(job("words", train.toString()),
        "local")), "reference")) {
      Path out = dir.resolve("finetune");
      f.run(e -> { }).adapter().write(out);
      expected = sha256(Files.readAllBytes(out.resolve(PeftAdapter.WEIGHTS_FILE)));
    }
    Path jobFile = Files.writeString(here.resolve("words.conf"), job("words", "words.jsonl"));
    Path workerCwd = Files.createDirectories(dir.resolve("worker-elsewhere"));
    Process worker = service.workerNode("far", workerCwd, dir.resolve("far.log"));
    try {
      String said = service.submit(here, jobFile.getFileName().toString());
      assertTrue(said.contains("as dataset:" + sha), said);
      String id = said.lines().filter(l -> l.startsWith("words-")).findFirst().orElseThrow(() ->
          new AssertionError("no job id in " + said));
      JsonNode end = service.awaitEnd(id, Duration.ofMinutes(4));
      assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + ServiceProcess.tail(
          dir.resolve("far.log")));
      assertTrue(Files.isRegularFile(workerCwd.resolve("cache").resolve("datasets").resolve(sha + ".jsonl")),
          "the worker fetched the dataset into its own cache");
      System.out.println("DatasetUploadIT: dataset " + sha + ", adapter " + end.path("adapterSha256").asText()
          + " (local run " + expected + ")");
      assertEquals(expected, end.path("adapterSha256").asText(), "the adapter of the uploaded dataset's job");
    } finally {
      worker.destroy();
      if (!worker.waitFor(30, TimeUnit.SECONDS)) worker.destroyForcibly();
    }
  }
}
