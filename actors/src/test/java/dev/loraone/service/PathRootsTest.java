package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which paths an HTTP job may name: built-ins always, files only under the operator's roots. */
class PathRootsTest {
  @TempDir Path dir;

  private static JobSpec job(Map<String, Object> keys) {
    return JobSpec.of(keys);
  }

  @Test
  void builtInsPassWithoutAnyRootAndFilesNeedOne() throws Exception {
    assertEquals(List.of(), PathRoots.none().problems(job(Map.of("model", "bge-small", "task",
        "wordnet-gloss-retrieval", "task.type", "embedding"))));
    Path task = Files.writeString(dir.resolve("t.jsonl"), "{}\n");
    List<String> p = PathRoots.none().problems(job(Map.of("task", task.toString())));
    assertEquals(1, p.size(), p::toString);
    assertTrue(p.get(0).contains("'job.task' = \"" + task + "\" is outside the service's roots; this service reads"
        + " no files for HTTP jobs (start it with --data-root DIR)"), p.get(0));
  }

  @Test
  void filesUnderARootPassAndDotDotCannotClimbOut() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Path models = Files.createDirectories(dir.resolve("models"));
    Path task = Files.writeString(data.resolve("t.jsonl"), "{}\n");
    PathRoots roots = new PathRoots(List.of(data), List.of(models));
    assertEquals(List.of(), roots.problems(job(Map.of("task", task.toString(), "model",
        models.resolve("my-llama").toString()))), "under the roots (a missing folder is the preflight's to name)");
    List<String> p = roots.problems(job(Map.of("task", data.resolve("../models/x.jsonl").toString(), "model",
        models.resolve("../data").toString())));
    assertEquals(2, p.size(), p::toString);
    assertTrue(p.get(0).startsWith("'job.model'") && p.get(1).startsWith("'job.task'"), p::toString);
  }

  @Test
  void aLinkUnderARootThatLeadsOutIsRefusedAndARootMustExist() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Path outside = Files.writeString(dir.resolve("secret.jsonl"), "{}\n");
    Path link = Files.createSymbolicLink(data.resolve("ok.jsonl"), outside);
    List<String> p = new PathRoots(List.of(data), List.of()).problems(job(Map.of("task.labels", link.toString())));
    assertEquals(1, p.size(), p::toString);
    assertTrue(p.get(0).contains("leads outside the service's roots (a link)"), p.get(0));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new PathRoots(List.of(dir.resolve("nope")), List.of()));
    assertEquals("--data-root " + dir.resolve("nope") + ": no such folder", e.getMessage());
  }
}
