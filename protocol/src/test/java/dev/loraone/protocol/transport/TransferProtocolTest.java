package dev.loraone.protocol.transport;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferMessage.ChunkAck;
import dev.loraone.protocol.transport.TransferMessage.TransferChunk;
import dev.loraone.protocol.transport.TransferMessage.TransferCompleted;
import dev.loraone.protocol.transport.TransferMessage.TransferStart;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chunk protocol in one ActorSystem, with a proxy between sender and inbox that loses,
 * corrupts or delays what a test says. Chunks are 1000 bytes, so a 10 kB tensor is ~11 chunks.
 */
class TransferProtocolTest {
  private static ActorTestKit kit;
  private static final TransferSettings SETTINGS = TransferSettings.fromConfig(com.typesafe.config.ConfigFactory.load())
      .withChunkSize(1000).withWindow(4).withRetransmit(Duration.ofMillis(200), Duration.ofMillis(50), 4);

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("TransferProtocolTest");
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  private static WorkerMessage.AdapterVersion adapter(int bytes, long seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    return new WorkerMessage.AdapterVersion(
        new JobId("job-1"), 3, Map.of("w", new TensorBlob(DType.U8, new long[] {bytes}, b)));
  }

  /** Forwards to {@code to} whatever {@code f} returns; null drops the message. */
  private static Behavior<TransferMessage> proxy(
      ActorRef<TransferMessage> to, Function<TransferMessage, TransferMessage> f) {
    return Behaviors.receiveMessage(m -> {
      TransferMessage out = f.apply(m);
      if (out != null) to.tell(out);
      return Behaviors.same();
    });
  }

  private record Run(TransferOutcome outcome, TestProbe<WorkerMessage> target) {}

  private static Run send(
      WorkerMessage message,
      Function<TransferMessage, TransferMessage> toInbox,
      TransferSettings inboxSettings) {
    ActorRef<TransferMessage> inbox = kit.spawn(TransferInbox.create(inboxSettings));
    ActorRef<TransferMessage> lossy = kit.spawn(proxy(inbox, toInbox));
    TestProbe<WorkerMessage> target = kit.createTestProbe();
    TestProbe<TransferOutcome> outcome = kit.createTestProbe();
    kit.spawn(ChunkSender.create(TransferId.random(), message, target.ref(), lossy, outcome.ref(), SETTINGS));
    return new Run(outcome.receiveMessage(Duration.ofSeconds(10)), target);
  }

  @Test
  void aMessageOfManyChunksIsDeliveredExactlyOnce() {
    WorkerMessage.AdapterVersion m = adapter(10_000, 1);
    Run run = send(m, x -> x, SETTINGS);
    TransferOutcome.Delivered d = assertInstanceOf(TransferOutcome.Delivered.class, run.outcome());
    assertTrue(d.chunks() >= 10, d.toString());
    assertEquals(0, d.retransmits());
    assertEquals(m, run.target().receiveMessage());
    run.target().expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aChunkLostOnItsFirstSendIsRetransmitted() {
    WorkerMessage.AdapterVersion m = adapter(10_000, 2);
    Set<Integer> dropped = new HashSet<>();
    Run run = send(m, x -> x instanceof TransferChunk c && c.index() == 3 && dropped.add(3) ? null : x, SETTINGS);
    TransferOutcome.Delivered d = assertInstanceOf(TransferOutcome.Delivered.class, run.outcome());
    assertEquals(Set.of(3), dropped);
    assertTrue(d.retransmits() >= 1, d.toString());
    assertEquals(m, run.target().receiveMessage());
  }

  @Test
  void aLostStartIsSentAgain() {
    WorkerMessage.AdapterVersion m = adapter(3_000, 3);
    boolean[] dropped = {false};
    Run run = send(m, x -> x instanceof TransferStart && !dropped[0] ? drop(dropped) : x, SETTINGS);
    assertInstanceOf(TransferOutcome.Delivered.class, run.outcome());
    assertTrue(dropped[0]);
    assertEquals(m, run.target().receiveMessage());
  }

  private static TransferMessage drop(boolean[] flag) {
    flag[0] = true;
    return null;
  }

  @Test
  void lostAcksAndALostCompletionNeitherLoseNorDuplicateTheMessage() {
    WorkerMessage.AdapterVersion m = adapter(5_000, 4);
    Set<String> droppedReplies = new HashSet<>();
    // Rewrites the start so that the inbox's replies pass through a second proxy that loses the
    // ack of the last chunk and the first completion.
    Function<TransferMessage, TransferMessage> rewrite =
        x -> {
          if (!(x instanceof TransferStart s)) return x;
          ActorRef<TransferMessage> replies =
              kit.spawn(
                  proxy(
                      s.replyTo(),
                      r -> {
                        boolean lose =
                            (r instanceof ChunkAck a
                                    && a.index() == 4
                                    && droppedReplies.add("ack4"))
                                || (r instanceof TransferCompleted
                                    && droppedReplies.add("completed"));
                        return lose ? null : r;
                      }));
          return new TransferStart(
              s.transfer(),
              s.manifest(),
              s.totalBytes(),
              s.chunkBytes(),
              s.crc32c(),
              s.target(),
              replies);
        };
    Run run = send(m, rewrite, SETTINGS);
    assertInstanceOf(TransferOutcome.Delivered.class, run.outcome());
    assertEquals(Set.of("ack4", "completed"), droppedReplies);
    assertEquals(m, run.target().receiveMessage());
    run.target().expectNoMessage(Duration.ofMillis(300));
  }

  @Test
  void aCorruptedChunkFailsTheChecksumAndNothingIsDelivered() {
    Function<TransferMessage, TransferMessage> corrupt = x -> {
      if (!(x instanceof TransferChunk c) || c.index() != 2) return x;
      byte[] b = c.payload().bytes();
      b[17] ^= 1;
      return new TransferChunk(c.transfer(), c.index(), new TensorBlob(DType.U8, new long[] {b.length}, b));
    };
    Run run = send(adapter(5_000, 5), corrupt, SETTINGS);
    TransferOutcome.Failed f = assertInstanceOf(TransferOutcome.Failed.class, run.outcome());
    assertTrue(f.reason().contains("CRC-32C mismatch"), f.reason());
    run.target().expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aTransferOverTheInboxLimitIsRejected() {
    TransferSettings small = new TransferSettings(1000, 4, Duration.ofMillis(200), Duration.ofMillis(50), 4, 2_000,
        Duration.ofSeconds(60), 16);
    TransferOutcome.Failed f =
        assertInstanceOf(
            TransferOutcome.Failed.class, send(adapter(5_000, 6), x -> x, small).outcome());
    assertTrue(f.reason().contains("max-transfer-size"), f.reason());
  }

  @Test
  void anUnreachableInboxFailsTheTransferAfterTheResendBudget() {
    long t0 = System.nanoTime();
    TransferOutcome.Failed f =
        assertInstanceOf(
            TransferOutcome.Failed.class, send(adapter(2_000, 7), x -> null, SETTINGS).outcome());
    assertTrue(f.reason().contains("resends"), f.reason());
    assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(4 * 200).toNanos(), "gave up before the resend budget");
  }
}
