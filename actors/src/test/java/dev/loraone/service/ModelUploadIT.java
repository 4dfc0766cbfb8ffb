package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No shared file system for models either: {@code loraone submit} zips the local HF folder the job
 * names and uploads it ({@code POST /models}) with the job's data file, the job names {@code
 * model:<id>}, and a worker node started in another working directory fetches the folder by its id
 * into its own cache, verified file by file; the adapter is bit-identical to the single-process run
 * on the original folder. Plus what the service refuses: a pickle upload and an unknown model id.
 */
class ModelUploadIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  /** The service's model limit: far above the tiny checkpoint, below the datasets' default limit. */
  private static final long MAX_MODEL = 8L << 20;
  @TempDir static Path dir;
  static ServiceProcess service;

  @BeforeAll
  static void start() throws Exception {
    service = ServiceProcess.start(dir, dir.resolve("service-data"), ServiceProcess.freePort(),
        List.of("--workers", "0", "--max-model-upload", Long.toString(MAX_MODEL)));
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) service.close();
  }

  /** A tiny tied bf16 sharded Llama checkpoint with its tokenizer, and 24 prompt/completion pairs, in {@code at}. */
  static void writeModelAndTask(Path at) throws Exception {
    LlamaFixture.Spec s = LlamaFixture.Spec.tiny(true);
    LlamaFixture.write(at.resolve("tiny-llama"), s, 43, DType.BF16, true);
    LlamaFixture.writeTokenizer(at.resolve("tiny-llama"), s);
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      String prompt = "w" + (3 + r.nextInt(47)) + " w" + (3 + r.nextInt(47));
      lines.add(JSON.writeValueAsString(Map.of("prompt", prompt, "completion", "w10 w11" + " w12".repeat(1 + i % 3))));
    }
    Files.write(at.resolve("task.jsonl"), lines);
  }

  static String job(String model, String task) {
    return JobSpec.of(Map.ofEntries(Map.entry("name", "llama-upload"), Map.entry("seed", 7),
        Map.entry("model", model), Map.entry("task", task),
        Map.entry("lora.rank", 2), Map.entry("lora.alpha", 4), Map.entry("lora.targets", "all-linear"),
        Map.entry("init.method", "lora-one"), Map.entry("init.batch", 4), Map.entry("init.iters", 2),
        Map.entry("init.shards", 2),
        Map.entry("optimizer.lr", 1e-2), Map.entry("train.steps", 12), Map.entry("train.batch", 4),
        Map.entry("train.micro-batch", 2), Map.entry("train.max-length", 16), Map.entry("eval.every", 6),
        Map.entry("eval.examples", 4))).render();
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static ServiceProcess.Response uploadZip(byte[] zip) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(service.url + "/models"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(zip)).build(), HttpResponse.BodyHandlers.ofString());
    return new ServiceProcess.Response(r.statusCode(), JSON.readTree(r.body()));
  }

  @Test
  void aPickleUploadAndAnUnknownModelAreRefused() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(b)) {
      z.putNextEntry(new ZipEntry("m/config.json"));
      z.write("{\"model_type\": \"llama\"}".getBytes(StandardCharsets.UTF_8));
      z.putNextEntry(new ZipEntry("m/pytorch_model.bin"));
      z.write(new byte[16]);
    }
    ServiceProcess.Response pickle = uploadZip(b.toByteArray());
    assertEquals(400, pickle.status(), pickle.body()::toString);
    assertTrue(pickle.body().path("error").asText().contains("'m/pytorch_model.bin' is a pickle"),
        pickle.body()::toString);
    ServiceProcess.Response junk = uploadZip("not a zip".getBytes(StandardCharsets.UTF_8));
    assertEquals(400, junk.status(), junk.body()::toString);
    ByteArrayOutputStream big = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(big)) {
      z.putNextEntry(new ZipEntry("m/model.safetensors"));
      byte[] noise = new byte[(int) MAX_MODEL + 1];
      new Random(5).nextBytes(noise); // incompressible: the zip is over the limit too
      z.write(noise);
    }
    for (int i = 0; i < 3; i++) { // the body is read before the answer: the client always gets it
      ServiceProcess.Response tooBig = uploadZip(big.toByteArray());
      assertEquals(413, tooBig.status(), tooBig.body()::toString);
      assertEquals("the upload is larger than the service's limit of " + MAX_MODEL + " bytes (loraone serve"
          + " --max-model-upload)", tooBig.body().path("error").asText());
    }

    String unknown = "0".repeat(64);
    ServiceProcess.Response r = service.post("/jobs", job("model:" + unknown, dir.resolve("task.jsonl").toString()));
    assertEquals(400, r.status(), r.body()::toString);
    assertTrue(r.body().path("problems").get(0).asText().contains("'job.model' = \"model:" + unknown
        + "\": no such model on this service"), r.body()::toString);
    try (var incoming = Files.list(dir.resolve("service-data").resolve("models").resolve("incoming"))) {
      assertEquals(0, incoming.count(), "refused uploads leave nothing behind");
    }
  }

  @Test
  void anUploadedModelTrainsOnAWorkerWithoutSharedPathsAsTheLocalRunDoes() throws Exception {
    Path here = Files.createDirectories(dir.resolve("submitter"));
    writeModelAndTask(here);
    String expected;
    try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(JobSpec.parseString(job(
        here.resolve("tiny-llama").toString(), here.resolve("task.jsonl").toString()), "local")), "reference")) {
      Path out = dir.resolve("finetune");
      f.run(e -> { }).adapter().write(out);
      expected = sha256(Files.readAllBytes(out.resolve(PeftAdapter.WEIGHTS_FILE)));
    }
    Path jobFile = Files.writeString(here.resolve("llama.conf"), job("tiny-llama", "task.jsonl"));
    Path workerCwd = Files.createDirectories(dir.resolve("worker-elsewhere"));
    Process worker = service.workerNode("far", workerCwd, dir.resolve("far.log"));
    try {
      String said = service.submit(here, jobFile.getFileName().toString());
      String ref = said.lines().filter(l -> l.startsWith("uploaded tiny-llama")).findFirst()
          .map(l -> l.substring(l.lastIndexOf(' ') + 1)).orElseThrow(() -> new AssertionError(said));
      assertTrue(ref.startsWith("model:") && said.contains("model_type llama"), said);
      String model = ref.substring("model:".length());
      JsonNode manifest = service.get("/models/" + model).body();
      assertEquals(model, manifest.path("id").asText(), manifest::toString);
      HttpResponse<String> tail = HTTP.send(HttpRequest.newBuilder(URI.create(service.url + "/models/" + model
          + "/config.json")).header("Range", "bytes=2-").GET().build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(206, tail.statusCode(), "a file's download resumes with a Range request");
      assertEquals(Files.readString(here.resolve("tiny-llama").resolve("config.json")).substring(2), tail.body());

      String id = said.lines().filter(l -> l.startsWith("llama-upload-")).findFirst().orElseThrow(() ->
          new AssertionError("no job id in " + said));
      JsonNode end = service.awaitEnd(id, Duration.ofMinutes(3));
      assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + ServiceProcess.tail(
          dir.resolve("far.log")));
      Path cached = workerCwd.resolve("cache").resolve("models").resolve(model);
      assertTrue(Files.isRegularFile(cached.resolve("config.json")), "the worker fetched the model into its cache");
      System.out.println("ModelUploadIT: model " + model + ", adapter " + end.path("adapterSha256").asText()
          + " (local run " + expected + ")");
      assertEquals(expected, end.path("adapterSha256").asText(), "the adapter of the uploaded model's job");
      ServiceProcess.Response deleted = service.delete("/models/" + model);
      assertEquals(204, deleted.status(), deleted.body()::toString);
      assertEquals(404, service.get("/models/" + model).status(), "a deleted model is gone");
      assertTrue(Files.isRegularFile(cached.resolve("config.json")), "a worker's cached copy stays");
    } finally {
      worker.destroy();
      if (!worker.waitFor(30, TimeUnit.SECONDS)) worker.destroyForcibly();
    }
  }
}
