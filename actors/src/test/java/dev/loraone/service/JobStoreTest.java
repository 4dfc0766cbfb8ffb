package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.job.JobSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobStoreTest {
  @TempDir Path root;

  @Test
  void jobsComeBackInSubmissionOrderWithTheirStateSpecAndEventsAfterATornLastLine() throws Exception {
    JobStore store = new JobStore(root);
    JobSpec spec = JobSpec.of(Map.of("name", "a", "train.steps", 7));
    JobStore.Record first = store.create(spec);
    JobStore.Record second = store.create(JobSpec.of(Map.of("name", "a")));
    assertEquals(List.of("a-1", "a-2"), List.of(first.id(), second.id()));
    store.save(first.with(JobStore.State.RUNNING, null));
    store.append(first.id(), new ObjectMapper().createObjectNode().put("event", "Started"));
    Files.writeString(
        store.dir(first.id()).resolve("events.jsonl"),
        "{\"event\":\"StepDo",
        StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);

    List<String> warnings = new ArrayList<>();
    JobStore again = new JobStore(root);
    List<JobStore.Loaded> loaded = again.load(warnings::add);
    assertEquals(List.of("a-1", "a-2"), loaded.stream().map(l -> l.record().id()).toList());
    assertEquals(JobStore.State.RUNNING, loaded.get(0).record().state());
    assertTrue(loaded.get(0).record().started() > 0);
    assertEquals(7, loaded.get(0).spec().getInt("train.steps"));
    assertEquals(spec.render(), loaded.get(0).spec().render());
    assertEquals(1, loaded.get(0).events().size(), "the torn line is dropped");
    assertEquals("a-3", again.create(spec).id(), "ids are never reused after a restart");
    assertTrue(warnings.isEmpty(), warnings::toString);
  }

  @Test
  void aJobFolderThatCannotBeReadIsSkippedWithAWarning() throws Exception {
    JobStore store = new JobStore(root);
    store.create(JobSpec.of(Map.of("name", "ok")));
    Path broken = root.resolve("jobs").resolve("broken-9");
    Files.createDirectories(broken);
    Files.writeString(broken.resolve("job.json"), "{ not json");
    List<String> warnings = new ArrayList<>();
    assertEquals(1, new JobStore(root).load(warnings::add).size());
    assertEquals(1, warnings.size());
    assertTrue(warnings.get(0).contains("broken-9"), warnings::toString);
    JobStore again = new JobStore(root);
    again.load(w -> {});
    Files.createDirectories(root.resolve("jobs").resolve("ok-2")); // an unreadable folder that load() skipped
    assertEquals(
        "ok-3",
        again.create(JobSpec.of(Map.of("name", "ok"))).id(),
        "a skipped folder's id is not taken over");
  }

  @Test
  void idsThatCouldNameAnotherFolderAreRefused() throws Exception {
    JobStore store = new JobStore(root);
    for (String bad : List.of("../x", "a/b", ".hidden", "", "a\\b")) {
      assertThrows(IllegalArgumentException.class, () -> store.dir(bad), bad);
    }
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> JobSpec.of(Map.of("name", "../escape")));
    assertTrue(e.getMessage().contains("'job.name' = \"../escape\" is not a job name"), e.getMessage());
  }
}
