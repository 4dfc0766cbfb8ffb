package dev.loraone.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.lab.CompareCommandTest.Outcome;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.ClusterConfig;
import dev.loraone.service.PathRoots;
import dev.loraone.service.Service;
import dev.loraone.service.Tokens;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code loraone compare --server}: the same study as in this process, each run POSTed as its own job
 * to a service in this JVM (two local worker actors, two jobs at once), followed to its end and read
 * back from {@code GET /jobs/{id}}: every run has the adapter SHA-256 and the eval curve of its local
 * twin, so the report's statistics are the local report's.
 */
class CompareServiceIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void runsOnAServiceGiveTheAdaptersAndCurvesOfTheLocalRuns() throws Exception {
    Path job = CompareCommandTest.tinyLlamaJob(dir);
    List<String> study = List.of("compare", "--job", job.toString(), "--methods", "lora,lora-one", "--seeds", "0,1");
    Outcome local = run(study, "--out", dir.resolve("local").toString(), "--runs-dir", dir.resolve("runs").toString());
    assertEquals(0, local.code(), local.err());

    Outcome remote;
    try (Service s = Service.start(new Service.Settings("127.0.0.1", 0, dir.resolve("data"), 2, 2, Tokens.none(),
        "127.0.0.1", 0, List.of(), JobSpec.MAX_CHARS, ClusterConfig.TlsOptions.NONE, List.of("cpu", "cpu"),
        new PathRoots(List.of(dir), List.of(dir)), Service.Https.NONE, // the test's model and task file
        Service.DEFAULT_MAX_UPLOAD, Service.DEFAULT_MAX_MODEL_UPLOAD))) {
      remote = run(study, "--server", s.url(), "--poll-seconds", "0.2", "--out", dir.resolve("remote").toString());
    }
    assertEquals(0, remote.code(), remote.err());
    assertTrue(remote.err().contains("submitted as job"), remote.err());

    JsonNode l = JSON.readTree(dir.resolve("local").resolve("compare.json").toFile());
    JsonNode r = JSON.readTree(dir.resolve("remote").resolve("compare.json").toFile());
    assertEquals(4, r.get("runs").size());
    assertTrue(r.get("settings").get("runner").asText().startsWith("service http://"), r.get("settings").toString());
    Set<String> ids = new HashSet<>();
    for (JsonNode lr : l.get("runs")) {
      JsonNode rr = twin(r.get("runs"), lr.get("method").asText(), lr.get("seed").asLong());
      ids.add(rr.get("job").asText());
      assertNotEquals(lr.get("job").asText(), rr.get("job").asText(), "the service names its jobs");
      assertEquals(lr.get("adapterSha256").asText(), rr.get("adapterSha256").asText(),
          "the cluster reproduces the local adapter");
      assertEquals(lr.get("evals").size(), rr.get("evals").size());
      for (int i = 0; i < lr.get("evals").size(); i++) {
        JsonNode a = lr.get("evals").get(i);
        JsonNode b = rr.get("evals").get(i);
        assertEquals(a.get("step").asInt(), b.get("step").asInt());
        assertEquals(a.get("loss").asDouble(), b.get("loss").asDouble(), 1e-9 * Math.abs(a.get("loss").asDouble()),
            "eval sums are added in index order on both paths");
        assertEquals(a.get("metrics").get("perplexity").asDouble(), b.get("metrics").get("perplexity").asDouble(),
            1e-9 * a.get("metrics").get("perplexity").asDouble());
      }
      assertEquals(lr.get("trainLoss").size(), rr.get("trainLoss").size());
    }
    assertEquals(4, ids.size(), "one service job per run: " + ids);
    assertEquals(l.get("paired").get(0).get("wins"), r.get("paired").get(0).get("wins"));
    assertEquals(l.get("speed").get(1).get("step"), r.get("speed").get(1).get("step"));
  }

  private static Outcome run(List<String> study, String... more) {
    String[] args = new String[study.size() + more.length];
    for (int i = 0; i < study.size(); i++) args[i] = study.get(i);
    System.arraycopy(more, 0, args, study.size(), more.length);
    return CompareCommandTest.loraone(args);
  }

  private static JsonNode twin(JsonNode runs, String method, long seed) {
    for (JsonNode r : runs) if (r.get("method").asText().equals(method) && r.get("seed").asLong() == seed) return r;
    throw new AssertionError(method + " seed " + seed + " missing: " + runs);
  }
}
