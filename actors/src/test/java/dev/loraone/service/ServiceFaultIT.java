package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code loraone serve} stopped mid-job, by {@code kill -9} or by SIGTERM, and started again on
 * the same {@code --data}: the running job is requeued and resumes from its checkpoint (not from
 * step 0), finishes, and its adapter has the SHA-256 of the same spec run uninterrupted in one
 * process ({@link LocalRun}, the determinism contract); a job that was queued behind it stays
 * queued across the restart and runs afterwards.
 */
class ServiceFaultIT {
  @TempDir static Path dir;
  static final int STEPS = 20;
  static final String SPEC = ServiceProcess.tinyJob("fault", STEPS, false); // checkpoint.every = 2
  static final Duration JOB = Duration.ofMinutes(4);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static String reference;

  /** The uninterrupted single-process adapter's SHA-256 (computed once, inside a test). */
  static synchronized String reference() throws Exception {
    if (reference == null) {
      JobSpec spec = JobSpec.parseString(SPEC, "fault job");
      try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(spec), "reference")) {
        Path out = dir.resolve("finetune-" + System.nanoTime());
        f.run(e -> {}).adapter().write(out);
        reference = sha256(out.resolve(PeftAdapter.WEIGHTS_FILE));
      }
    }
    return reference;
  }

  @Test
  void aServiceKilledMidJobResumesItFromItsCheckpointToTheSameAdapter() throws Exception {
    stopMidJobAndRestart(true);
  }

  @Test
  void aServiceStoppedBySigtermMidJobResumesItFromItsCheckpointToTheSameAdapter() throws Exception {
    stopMidJobAndRestart(false);
  }

  private void stopMidJobAndRestart(boolean kill) throws Exception {
    String how = kill ? "SIGKILL" : "SIGTERM";
    String expected = reference();
    Path data = dir.resolve("data-" + (kill ? "kill" : "term") + "-" + System.nanoTime());
    int clusterPort = ServiceProcess.freePort();
    List<String> args = List.of("--workers", "1", "--max-concurrent", "1");
    String a;
    String b;
    int checkpointSeen;
    ServiceProcess first = ServiceProcess.start(dir, data, clusterPort, args);
    try {
      ServiceProcess.Response ra = first.post("/jobs", SPEC);
      ServiceProcess.Response rb = first.post("/jobs", ServiceProcess.tinyJob("queued", 2, false));
      assertEquals(201, ra.status(), ra.body()::toString);
      assertEquals(201, rb.status(), rb.body()::toString);
      a = ra.body().path("id").asText();
      b = rb.body().path("id").asText();
      checkpointSeen =
          first
              .awaitJob(a, j -> j.path("checkpointStep").asInt() >= 2, JOB)
              .path("checkpointStep")
              .asInt();
      assertEquals(
          "QUEUED",
          first.get("/jobs/" + b).body().path("state").asText(),
          "the second job waits for the slot");
    } finally {
      if (kill) first.kill();
      else first.close();
    }
    assertFalse(first.alive(), "the first service is gone");

    Path jobDir = data.resolve("jobs").resolve(a);
    JsonNode record = JSON.readTree(jobDir.resolve("job.json").toFile());
    assertEquals(
        "RUNNING",
        record.path("state").asText(),
        () -> "the " + how + " hit the job before its end: " + record);
    assertEquals(
        "QUEUED",
        JSON.readTree(data.resolve("jobs").resolve(b).resolve("job.json").toFile())
            .path("state")
            .asText());
    JsonNode cp = JSON.readTree(jobDir.resolve("out").resolve("checkpoint").resolve("checkpoint.json").toFile());
    int saved = cp.path("step").asInt();
    assertTrue(
        saved >= checkpointSeen && saved >= 2 && saved < STEPS,
        () -> "checkpoint on disk after the " + how + ": " + cp);

    long restarted = System.currentTimeMillis();
    try (ServiceProcess second = ServiceProcess.start(dir, data, clusterPort, args)) {
      assertEquals(
          "QUEUED",
          second.get("/jobs/" + b).body().path("state").asText(),
          "the queued job is still queued after the restart");
      JsonNode end = second.awaitEnd(a, JOB);
      assertEquals("SUCCEEDED", end.path("state").asText(), () -> end + "\n" + second.describe());

      List<JsonNode> events = second.events(a);
      int requeued = indexOf(events, "Requeued", 0);
      assertTrue(requeued > 0, () -> "a Requeued event: " + events);
      int resumedAt = -1;
      for (int i = requeued; i < events.size(); i++) {
        Matcher m = Pattern.compile("^resuming after step (\\d+)$").matcher(events.get(i).path("detail").asText());
        if (events.get(i).path("event").asText().equals("PhaseChanged") && m.matches()) {
          resumedAt = Integer.parseInt(m.group(1));
          break;
        }
      }
      int from = resumedAt;
      assertEquals(saved, from, () -> "resumed from the checkpoint on disk (step " + saved + "): " + events);
      for (int i = requeued; i < events.size(); i++) {
        JsonNode e = events.get(i);
        if (e.path("event").asText().equals("StepDone")) {
          assertTrue(
              e.path("step").asInt() > from,
              () ->
                  "the resumed run redid step " + e.path("step") + " (resumed after " + from + ")");
        }
      }
      assertEquals(
          STEPS,
          events.stream()
              .filter(e -> e.path("event").asText().equals("StepDone"))
              .mapToInt(e -> e.path("step").asInt())
              .max()
              .orElse(0));
      assertEquals(
          1,
          events.stream().filter(e -> e.path("event").asText().equals("Finished")).count(),
          () -> "one Finished: " + events);
      assertEquals(0, events.stream().filter(e -> e.path("event").asText().equals("Failed")).count(),
          () -> "a job the service stopped and resumed never reported Failed: " + events);
      assertEquals(
          expected,
          end.path("adapterSha256").asText(),
          "the resumed job's adapter is the uninterrupted run's");

      JsonNode endB = second.awaitEnd(b, JOB);
      assertEquals("SUCCEEDED", endB.path("state").asText(), endB::toString);
      List<JsonNode> eventsB = second.events(b);
      List<JsonNode> startedB = eventsB.stream().filter(e -> e.path("event").asText().equals("Started")).toList();
      assertEquals(1, startedB.size(), () -> "the queued job started once: " + eventsB);
      assertTrue(startedB.get(0).path("time").asLong() >= restarted, "it started after the restart");
      assertTrue(
          endB.path("started").asLong() >= end.path("ended").asLong(),
          "with --max-concurrent 1, after the resumed job ended");
      System.out.printf(
          "[ServiceFaultIT] %s: checkpoint step %d seen, %d on disk; resumed after step %d of %d; adapter %s "
              + "(reference %s)%n",
          how, checkpointSeen, saved, from, STEPS, end.path("adapterSha256").asText(), expected);
    }
  }

  private static int indexOf(List<JsonNode> events, String kind, int from) {
    for (int i = from; i < events.size(); i++) if (events.get(i).path("event").asText().equals(kind)) return i;
    return -1;
  }

  static String sha256(Path f) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(f)) {
      in.transferTo(new java.security.DigestOutputStream(java.io.OutputStream.nullOutputStream(), md));
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }
}
