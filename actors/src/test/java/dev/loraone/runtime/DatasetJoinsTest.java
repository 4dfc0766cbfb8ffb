package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DatasetJoins} in front of a stand-in worker that reports what reaches it: a join naming a
 * dataset arrives with the local file instead, one that could not be fetched with the reason in the
 * value the worker will refuse, one cancelled while fetching not at all; other messages pass as sent.
 */
class DatasetJoinsTest {
  private static final ActorTestKit KIT = ActorTestKit.create();
  private static final String SHA = "ab".repeat(32);
  @TempDir Path dir;

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  private static WorkerMessage.JoinJob join(String job, String task) {
    return WorkerMessage.JoinJob.of(new JobId(job), JobSpec.of(Map.of("task", task, "task.eval",
        "dataset:" + SHA)), "unverified");
  }

  private static ActorRef<Object> front(TestProbe<Object> seen, DatasetSource source) {
    Behavior<Object> worker = Behaviors.receiveMessage(m -> {
      seen.ref().tell(m);
      return Behaviors.same();
    });
    return KIT.spawn(DatasetJoins.around(worker, source));
  }

  @Test
  void aJoinNamingDatasetsReachesTheWorkerWithTheirLocalFiles() throws Exception {
    Path file = Files.writeString(dir.resolve(SHA + ".jsonl"), "{\"text\": \"a\", \"label\": \"b\"}\n");
    TestProbe<Object> seen = KIT.createTestProbe();
    ActorRef<Object> front = front(seen, sha -> dir.resolve(sha + ".jsonl"));
    front.tell(join("j1", "dataset:" + SHA));
    WorkerMessage.JoinJob got = seen.expectMessageClass(WorkerMessage.JoinJob.class);
    assertEquals(file.toAbsolutePath().toString(), got.parsedSpec().getString("task.train"));
    assertEquals(file.toAbsolutePath().toString(), got.parsedSpec().getString("task.eval"));
    WorkerMessage.CancelJob other = new WorkerMessage.CancelJob(new JobId("j9"), "test");
    front.tell(other);
    seen.expectMessage(other);
  }

  @Test
  void aDatasetThatCannotBeFetchedIsNamedInTheValueTheWorkerRefuses() {
    TestProbe<Object> seen = KIT.createTestProbe();
    front(seen, DatasetSource.NONE).tell(join("j3", "dataset:" + SHA));
    String task = seen.expectMessageClass(WorkerMessage.JoinJob.class).parsedSpec().getString("task.train");
    assertTrue(task.startsWith("dataset:" + SHA + " (not fetched: this worker node has no service to fetch"
        + " datasets from (start it with `loraone node --role worker --server URL`"), task);
  }

  @Test
  void aJobCancelledWhileItsDatasetsAreFetchedIsNotJoined() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Path file = Files.writeString(dir.resolve(SHA + ".jsonl"), "{\"text\": \"a\", \"label\": \"b\"}\n");
    TestProbe<Object> seen = KIT.createTestProbe();
    ActorRef<Object> front = front(seen, sha -> {
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return file;
    });
    front.tell(join("j4", "dataset:" + SHA));
    WorkerMessage.CancelJob cancel = new WorkerMessage.CancelJob(new JobId("j4"), "test");
    front.tell(cancel);
    seen.expectMessage(cancel);
    release.countDown();
    seen.expectNoMessage(Duration.ofMillis(500));
  }
}
