package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code loraone serve} with the test folder as its --data-root and --model-root ({@link ServiceProcess}'s
 * default): what a job over HTTP may read.
 */
class ServicePathRootsIT {
  @TempDir static Path dir;
  static ServiceProcess service;

  @BeforeAll
  static void start() throws Exception {
    service = ServiceProcess.start(dir, dir.resolve("data"), ServiceProcess.freePort(), List.of("--workers", "0"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) service.close();
  }

  /** The 400's problems, one per line. */
  private static String rejected(String body) throws Exception {
    ServiceProcess.Response r = service.post("/jobs", body);
    assertEquals(400, r.status(), r.body()::toString);
    assertEquals("invalid job", r.body().path("error").asText(), r.body()::toString);
    List<String> problems = new ArrayList<>();
    r.body().path("problems").forEach(p -> problems.add(p.asText()));
    return String.join("\n", problems);
  }

  /**
   * A job over HTTP names built-in models and tasks, or paths under the service's --model-root and
   * --data-root (here the test folder): a path outside (absolute, climbing with .., or through a link
   * that leads out) is a 400 naming the key, before anything is read, and no job is queued.
   */
  @Test
  void aJobOverHttpCannotNameFilesOutsideTheServicesRoots() throws Exception {
    int before = service.get("/jobs").body().size();
    Path otherTenant = dir.toAbsolutePath().getParent().resolve("other-tenant"); // beside the root, not in it
    String all = rejected(ServiceBadInputIT.job("etc", "job.model = \"../../../../../../etc\"\njob.task.train = \""
        + otherTenant.resolve("train.jsonl") + "\"\njob.task.eval = \"" + dir.resolve("../outside.jsonl")
        + "\"\njob.task.corpus = \"" + otherTenant.resolve("x.jsonl") + "\"\njob.task.labels = \""
        + otherTenant.resolve("labels.tsv") + "\""));
    for (String key : List.of("model", "task", "task.eval", "task.corpus", "task.labels")) {
      assertTrue(all.contains("'job." + key + "' = "), () -> key + " named in " + all);
    }
    assertTrue(all.contains("is outside the service's roots; expected a path under --data-root " + dir.toAbsolutePath()
        .normalize()), all);
    assertTrue(!all.contains("no such"), () -> "nothing outside a root is even looked at: " + all);

    Path secret = Files.writeString(Files.createTempFile("secret", ".jsonl"), "{\"text\": \"x\", \"label\": \"a\"}\n");
    Path link = dir.resolve("innocent.jsonl");
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, secret);
    try {
      String p = rejected(ServiceBadInputIT.job("link", "job.task = \"" + link + "\""));
      assertTrue(p.contains("'job.task' = \"" + link + "\" leads outside the service's roots (a link)"), p);
    } finally {
      Files.delete(link);
      Files.delete(secret);
    }
    assertEquals(before, service.get("/jobs").body().size(), "no job was queued");
  }}
